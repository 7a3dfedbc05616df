import pytest

from locvlm.data.clips import MAX_SPEED, render_clip
from locvlm.data.shapes import ShapesConfig


@pytest.mark.parametrize("size", [(128, 128), (96, 180), (300, 150)])
def test_clip_motion_follows_the_contract(size: tuple[int, int]) -> None:
    for seed in range(10):
        frames, tracks = render_clip((seed, 0), 24, ShapesConfig(size=size))
        assert len(frames) == len(tracks) == 24
        short = min(size)
        first = [o.category for o in tracks[0]]
        for t, objects in enumerate(tracks):
            assert [o.category for o in objects] == first  # same objects, same order
            for o in objects:
                assert 0 <= o.box.x1 <= o.box.x2 <= size[0]
                assert 0 <= o.box.y1 <= o.box.y2 <= size[1]
            if t:
                for prev, cur in zip(tracks[t - 1], objects, strict=True):
                    dx, dy = cur.box.x1 - prev.box.x1, cur.box.y1 - prev.box.y1
                    # rounding to whole pixels adds at most one pixel per axis
                    assert (dx**2 + dy**2) ** 0.5 <= MAX_SPEED * short + 2**0.5


def test_objects_actually_move_and_clips_are_deterministic() -> None:
    frames, tracks = render_clip((4, 2), 16)
    again, tracks2 = render_clip((4, 2), 16)
    assert tracks == tracks2
    assert frames[5].tobytes() == again[5].tobytes()
    assert any(a.box != b.box for a, b in zip(tracks[0], tracks[-1], strict=True))


@pytest.mark.parametrize("n", [7, 65])
def test_frame_count_bounds(n: int) -> None:
    with pytest.raises(ValueError, match=r"8\.\.64"):
        render_clip(0, n)
