"""`share_prefix`: rows of one image prefill its prefix once and answer as they would alone."""

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from locvlm.data.shapes import CATEGORIES, ShapesConfig, render_scene
from locvlm.model.loading import LoadedModel, load_model
from locvlm.model.prefix import SharedPrefix, share_prefix
from locvlm.tasks import counting, locpred, revloc


@pytest.fixture(scope="module")
def loaded(tiny_shapes_export: Path) -> LoadedModel:
    return load_model(tiny_shapes_export)


def _share(
    loaded: LoadedModel, images: list[Image.Image], questions: list[str]
) -> tuple[dict[str, torch.Tensor], SharedPrefix | None]:
    inputs = loaded.inputs(images, questions)
    owners = [id(image) for image in images]
    return inputs, share_prefix(
        loaded.model, inputs, owners, loaded.encoder.image_id, loaded.pad_token_id
    )


def _generate(loaded: LoadedModel, inputs: dict[str, Any], limit: int) -> list[str]:
    with torch.inference_mode():
        out = loaded.model.generate(**inputs, max_new_tokens=limit, do_sample=False,
                                    pad_token_id=loaded.pad_token_id,
                                    eos_token_id=loaded.eos_token_ids)  # fmt: skip
    return [loaded.decode(row) for row in out[:, inputs["input_ids"].shape[1] :].tolist()]


def test_rows_of_one_image_answer_as_alone(loaded: LoadedModel) -> None:
    scenes = [render_scene(seed=(31, i), config=ShapesConfig(size=None)) for i in range(3)]
    images, questions = [], []
    for k, (image, objects) in enumerate(scenes):
        obj = objects[0]
        for q in (locpred.prompt(CATEGORIES[k]), counting.prompt(obj.category),
                  revloc.prompt(obj.box, loaded.codec, image.size),
                  locpred.prompt(obj.category, 2)):  # fmt: skip
            images.append(image)  # the same object: one owner
            questions.append(q)
    inputs, shared = _share(loaded, images, questions)
    assert shared is not None
    assert shared.images == 3
    first_question = loaded.encoder.prompt_ids(questions[0])
    image_ends = max(i for i, t in enumerate(first_question) if t == loaded.encoder.image_id)
    assert image_ends < shared.length < len(first_question)
    assert shared.cache.get_seq_length() == shared.length
    # prefix, padding, question: every row's own tokens, in order, padding between
    mask = shared.inputs["attention_mask"]
    assert bool(mask[:, : shared.length].all())
    for i, q in enumerate(questions):
        ids = shared.inputs["input_ids"][i][mask[i].bool()].tolist()
        assert ids == loaded.encoder.prompt_ids(q)
    assert not bool(mask.all())  # questions of other lengths: padding in the middle

    said = _generate(loaded, {**shared.inputs, "cache": shared.cache}, 12)
    alone = [loaded.generate([im], [q], max_new_tokens=12)[0]
             for im, q in zip(images, questions, strict=True)]  # fmt: skip
    assert said == alone
    assert said == _generate(loaded, inputs, 12)  # and as the left-padded batch answers


def test_nothing_is_shared_without_two_rows_of_one_image(loaded: LoadedModel) -> None:
    images = [render_scene(seed=(32, i))[0] for i in range(3)]
    questions = [counting.prompt("red circle")] * 3
    assert _share(loaded, images, questions)[1] is None
    # equal pixels in different objects are different owners: nothing is compared
    assert _share(loaded, [images[0], images[0].copy()], questions[:2])[1] is None


def test_a_prefix_without_every_image_token_is_not_shared(loaded: LoadedModel) -> None:
    image = render_scene(seed=(33, 0))[0]
    inputs = loaded.inputs([image, image], [counting.prompt("red circle")] * 2)
    ids = inputs["input_ids"].clone()
    start = int(inputs["attention_mask"][1].nonzero()[0])
    ids[1, start + 1] = loaded.pad_token_id + 1  # the rows part before the image tokens
    inputs["input_ids"] = ids
    owners = [1, 1]
    image_id, pad = loaded.encoder.image_id, loaded.pad_token_id
    assert share_prefix(loaded.model, inputs, owners, image_id, pad) is None
    with pytest.raises(ValueError, match="3 owners for 2 rows"):
        share_prefix(loaded.model, inputs, [1, 1, 1], image_id, pad)


def test_greedy_shares_the_prefix_of_one_image_object(loaded: LoadedModel) -> None:
    image = render_scene(seed=(34, 0), config=ShapesConfig(size=(96, 160)))[0]
    questions = [locpred.prompt(c) for c in CATEGORIES[:6]]
    together = loaded.generate([image] * 6, questions, max_new_tokens=10)
    alone = [loaded.generate([image], [q], max_new_tokens=10)[0] for q in questions]
    assert together == alone
