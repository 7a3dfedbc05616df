"""The generator obeys shapes-world.md, measured on the rendered pixels."""

import itertools

import numpy as np
import pytest

from locvlm.data.shapes import (
    COLOR_JITTER,
    COLORS,
    ShapesConfig,
    check_size,
    render_scene,
    sample_size,
)

CONFIGS = [
    ShapesConfig(size=(128, 128)),  # training default
    ShapesConfig(size=(48, 96)),  # smallest side, tall 1:2
    ShapesConfig(size=(1024, 512)),  # largest side, wide 2:1
    ShapesConfig(size=None),  # random size per scene
]


def _object_pixels(pixels: np.ndarray) -> np.ndarray:
    # Every contract color has a channel <= 105 after jitter; backgrounds are >= 168.
    return pixels.min(axis=2) < 136


@pytest.mark.parametrize("config", CONFIGS)
def test_scenes_follow_the_contract(config: ShapesConfig) -> None:
    for i in range(40 if config.size != (1024, 512) else 5):
        image, objects = render_scene((7, i), config)
        pixels = np.asarray(image).astype(int)
        width, height = image.size
        check_size((width, height))
        assert 1 <= len(objects) <= 5
        short = min(width, height)
        covered = np.zeros((height, width), bool)
        mask = _object_pixels(pixels)
        for obj in objects:
            b = obj.box
            x1, y1, x2, y2 = (int(v) for v in b.to_xyxy())
            assert (x1, y1, x2, y2) == b.to_xyxy()  # integer pixel edges
            side = max(b.width, b.height)
            assert 0.12 * short - 1 <= side <= 0.35 * short, (side, short)
            inside = mask[y1:y2, x1:x2]
            ys, xs = np.nonzero(inside)
            # tight: the drawn pixels touch all four edges of the box
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (0, 0, x2 - x1, y2 - y1)
            colors = pixels[y1:y2, x1:x2][inside]
            nominal = np.array(COLORS[obj.color])
            assert np.abs(colors - nominal).max() <= COLOR_JITTER
            assert not covered[y1:y2, x1:x2].any(), "objects overlap"
            covered[y1:y2, x1:x2] = True
        assert not (mask & ~covered).any(), "object pixels outside every box"
        assert pixels[~covered].min() >= 180 - 12  # light background, noise <= 12


def test_objects_never_overlap_across_many_scenes() -> None:
    for i in range(300):
        _, objects = render_scene((3, i), ShapesConfig(size=(64, 64)))
        for a, b in itertools.combinations(objects, 2):
            assert a.box.intersection(b.box) == 0


def test_same_seed_same_scene_and_different_seed_differs() -> None:
    a_img, a_obj = render_scene((1, 5), ShapesConfig(size=None))
    b_img, b_obj = render_scene((1, 5), ShapesConfig(size=None))
    c_img, _ = render_scene((1, 6), ShapesConfig(size=None))
    assert a_obj == b_obj
    assert a_img.tobytes() == b_img.tobytes()
    assert a_img.size != c_img.size or a_img.tobytes() != c_img.tobytes()


def test_every_category_and_repeats_occur() -> None:
    seen, repeats = set(), 0
    for i in range(400):
        _, objects = render_scene((9, i))
        cats = [o.category for o in objects]
        seen.update(cats)
        repeats += len(cats) != len(set(cats))
    assert len(seen) == 24
    assert repeats > 0


def _shared_word_pairs(confusable_prob: float, scenes: int = 300) -> float:
    """Share of distinct-category object pairs that share exactly their color or shape."""
    shared = pairs = 0
    for i in range(scenes):
        config = ShapesConfig(min_objects=3, confusable_prob=confusable_prob)
        _, objects = render_scene((4, i), config)
        for a, b in itertools.combinations(objects, 2):
            if a.category != b.category:
                pairs += 1
                shared += len(set(a.category.split()) & set(b.category.split())) == 1
    return shared / pairs


def _repeated_share(repeat_prob: float, scenes: int = 300) -> float:
    """Share of objects whose category appears more than once in their scene."""
    repeated = total = 0
    for i in range(scenes):
        _, objects = render_scene((5, i), ShapesConfig(min_objects=3, repeat_prob=repeat_prob))
        cats = [o.category for o in objects]
        repeated += sum(cats.count(c) > 1 for c in cats)
        total += len(cats)
    return repeated / total


def test_repeat_prob_sets_how_often_categories_repeat() -> None:
    never, often = _repeated_share(0.0), _repeated_share(0.6)
    assert never < 0.2  # only chance collisions of uniform draws over 24 categories
    assert often > never + 0.3


def test_confusable_scenes_hold_more_same_color_or_same_shape_pairs() -> None:
    plain, hard = _shared_word_pairs(0.0), _shared_word_pairs(1.0)
    assert plain < 0.55  # uniform categories: 1 - 15/23 of pairs share a word
    assert hard > plain + 0.2


def test_confusable_off_draws_the_same_scenes_as_before() -> None:
    image, objects = render_scene((7, 3))
    again, same = render_scene((7, 3), ShapesConfig(confusable_prob=0.0))
    assert [o.category for o in objects] == [o.category for o in same]
    assert np.array_equal(np.asarray(image), np.asarray(again))


def test_random_sizes_cover_the_contract() -> None:
    rng = np.random.default_rng(0)
    sizes = [sample_size(rng) for _ in range(2000)]
    for size in sizes:
        check_size(size)
    assert min(min(s) for s in sizes) < 60
    assert max(max(s) for s in sizes) > 900
    assert any(w > h for w, h in sizes)
    assert any(h > w for w, h in sizes)


@pytest.mark.parametrize(
    "size",
    [
        (47, 60),  # below the smallest side
        (1025, 800),  # above the largest side
        (100, 201),  # taller than 1:2
    ],
)
def test_out_of_contract_sizes_rejected(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match=r"px|aspect"):
        ShapesConfig(size=size)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_objects": 0},  # no objects
        {"max_objects": 6},  # too many
        {"backgrounds": ("stripes",)},  # unknown background
        {"confusable_prob": 1.5},  # not a probability
        {"repeat_prob": -0.1},  # not a probability
    ],
)
def test_bad_configs_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"objects|backgrounds|confusable|repeat"):
        ShapesConfig(**kwargs)  # type: ignore[arg-type]
