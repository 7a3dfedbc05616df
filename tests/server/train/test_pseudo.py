"""Pseudo-labels from the shipped model, and their precision against the truth."""

import pytest
from PIL import Image

from locvlm.model.loading import LoadedModel, load_model
from locvlm.tasks import Obj, Scene
from locvlm.train.pseudo import Labelled, Labeller, label_precision
from locvlm.train.scenes import SceneStream
from locvlm_client import Box


@pytest.fixture(scope="module")
def shipped() -> LoadedModel:
    return load_model("default")


def _obj(category: str, xyxy: tuple[int, int, int, int]) -> Obj:
    return Obj(category=category, box=Box.from_xyxy(xyxy))


def test_precision_counts_right_category_and_box() -> None:
    truth = Scene(size=(100, 100), objects=(
        _obj("red circle", (10, 10, 30, 30)), _obj("blue square", (60, 60, 90, 90)),
    ))  # fmt: skip
    image = Image.new("RGB", (100, 100))
    listed = (
        _obj("red circle", (11, 10, 31, 30)),  # right
        _obj("green square", (60, 60, 90, 90)),  # wrong category
        _obj("blue square", (0, 0, 20, 20)),  # wrong place
    )
    partial = Labelled(image, listed, listed[:1])
    whole = Labelled(image, truth.objects, truth.objects)
    got = label_precision([partial, whole], [truth, truth])
    assert got["listed"] == 5
    assert got["kept"] == 3
    assert got["listed_precision"] == pytest.approx(3 / 5)
    assert got["kept_precision"] == 1.0
    assert got["complete_scenes"] == 1  # the partial one dropped an object
    assert got["complete_scene_exact"] == 1.0
    assert got["complete_recall"] == 1.0


def test_the_shipped_model_labels_scenes_and_the_filters_hold(shipped: LoadedModel) -> None:
    stream = SceneStream(seed=31337)
    drawn = [stream.next() for _ in range(6)]
    labelled = Labeller(shipped, batch_size=8).label([image for image, _ in drawn])
    assert len(labelled) == 6
    assert all(set(x.kept) <= set(x.listed) for x in labelled)
    assert sum(len(x.listed) for x in labelled) > 0
    precision = label_precision(labelled, [scene for _, scene in drawn])
    # what passes every filter is at least as right as what was listed
    assert precision["kept_precision"] >= precision["listed_precision"]
    for x in labelled:
        assert x.scene.size == x.image.size
        assert x.complete == (bool(x.listed) and x.kept == x.listed)
