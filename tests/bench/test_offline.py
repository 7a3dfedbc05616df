"""`bench/grounding_offline.py`, `bench/misses.py` and `bench/grounding_tiles.py`'s readers
judge saved answers without a model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from grounding_offline import judge
from grounding_tiles import checked, merged
from misses import kinds, misses

from locvlm.tasks.base import Obj
from locvlm.tasks.tiles import crops
from locvlm_client import Box

SIZE = [64, 64]  # 2 px a bin of 32
LISTING = "blue square [16, 0, 24, 8]; red circle [0, 0, 8, 8]; red circle [0, 16, 8, 24]"


def _row(rid: str, task: str, **fields: Any) -> dict[str, Any]:
    return {"id": rid, "task": task, "size": SIZE, **fields}


def _said(text: str, prompt: str = "", also: list[str] | None = None, ok: bool = True) -> dict:
    return {"text": text, "prompt": prompt, "also": also or [], "correct": ok}


def test_each_way_of_serving_grounding_is_judged_on_the_same_answers() -> None:
    rows = [
        _row("g/0", "locpred", args={"phrase": "red circle"},
             expected={"boxes": [[0, 0, 16, 16], [0, 32, 16, 48]]}),
        _row("g/1", "negpred", args={"phrase": "green circle"}, expected={"boxes": []}),
    ]  # fmt: skip
    answers = {
        "g/0": _said("[0, 0, 8, 8]"),  # one of two
        "g/0/served": _said("[0, 0, 8, 8]", "Where is the red circle?", [LISTING]),
        "g/1": _said("[16, 0, 24, 8]"),  # the blue square: a mix-up
        "g/1/served": _said(LISTING, "List every object.", ["[16, 0, 24, 8]"]),
    }
    table = judge(rows, answers, bins=32)
    assert "| own answer | 0.000 | - / 0.000 / - | 0.000 |" in table
    assert "| listing | 1.000 | - / 1.000 / - | 1.000 |" in table
    assert "| both (detect.checked) | 1.000 | - / 1.000 / - | 1.000 |" in table


def test_misses_are_tabled_by_object_size_and_gap() -> None:
    evidence = [{"category": "red circle", "box": [0, 0, 4, 4]},  # < 0.075 of 64 px
                {"category": "blue square", "box": [0, 40, 30, 64]}]  # fmt: skip
    rows = [
        _row("ab/0", "spatial_side", bench="abovebelow", expected={"evidence": evidence}),
        _row("d/0", "detect", expected={"objects": evidence}),
    ]
    answers = {
        "ab/0/served": _said("above", ok=False),
        "d/0": _said("blue square [0, 20, 14, 31]"),  # the square found, the circle missed
    }
    table = misses(rows, answers, bins=32)
    assert "| detection recall | 0.000 (1) | - | - | - | 1.000 (1) |" in table
    assert "| above/below side as served, by the smaller object | 0.000 (1) |" in table
    assert "| side as served | - | - | 0.000 (1) |" in table  # 36 px apart: >= 0.1


def test_wrong_grounding_answers_are_told_apart_by_kind() -> None:
    objects = [{"category": "red circle", "box": [0, 0, 16, 16]},
               {"category": "red square", "box": [32, 0, 48, 16]},
               {"category": "red circle", "box": [0, 32, 16, 48]}]  # fmt: skip
    two = {"boxes": [[0, 0, 16, 16], [0, 32, 16, 48]]}
    rows = [
        _row("d/0", "detect", image="a.png", expected={"objects": objects}),
        _row("g/0", "locpred", image="a.png", args={"phrase": "red circle"}, expected=two),
        _row("g/1", "locpred", image="a.png", args={"phrase": "red square"},
             expected={"boxes": [[32, 0, 48, 16]]}),
        _row("g/2", "locpred", image="a.png", args={"phrase": "red square"},
             expected={"boxes": [[32, 0, 48, 16]]}),
    ]  # fmt: skip
    answers = {
        "d/0": _said("red circle [0, 0, 8, 8]; red square [16, 0, 24, 8]"),  # 2 of 3 found
        "g/0": _said("[0, 0, 8, 8]", ok=False),  # one of two instances
        "g/1": _said("[0, 0, 8, 8]", ok=False),  # on the red circle: same colour
        "g/2": _said("There is no red square.", ok=False),
    }
    table = kinds(rows, answers, bins=32)
    assert "| several instances, too few boxes | 1 |" in table
    assert "| another object, same colour | 1 |" in table
    assert "| said absent | 1 |" in table
    assert "| detection recall | 0.667 (3) |" in table


def test_the_tower_probe_reads_each_object_from_the_patch_it_owns_most() -> None:
    from vision_probe import _read

    from locvlm.tasks import Obj, Scene
    from locvlm.train.stage0 import dense_targets
    from locvlm_client import Box

    scene = Scene(size=(64, 64), objects=(
        Obj("red circle", Box.from_xyxy((0, 0, 30, 30))),  # patches 0, 1, 4, 5 of a 4x4 grid
        Obj("blue square", Box.from_xyxy((41, 41, 45, 45))),  # small: within patch 10
    ))  # fmt: skip
    ids = {"red circle": 1, "blue square": 2}
    cats, edges = dense_targets(scene, 4, 32, ids)  # the heads' targets: a perfect tower
    assert [ok for _, *ok in _read(cats, edges, scene, 4, 32, ids)] == [[True, True]] * 2
    cats[10] = 1  # the small object's patch read as the red circle
    edges[0] = [16, 16, 31, 31]  # the big one's most-owned patch reads a box off by half
    assert [ok for _, *ok in _read(cats, edges, scene, 4, 32, ids)] == [
        [True, False],
        [False, True],
    ]
    assert [bucket for bucket, *_ in _read(cats, edges, scene, 4, 32, ids)] == [">=0.25", "<0.075"]


def test_tiles_keep_whole_objects_once_in_image_pixels() -> None:
    assert crops((100, 110)) == ()  # square enough: asked whole
    tall = crops((100, 200))
    assert tall == ((0, 0, 100, 100), (0, 50, 100, 150), (0, 100, 100, 200))
    assert crops((200, 100)) == ((0, 0, 100, 100), (50, 0, 150, 100), (100, 0, 200, 100))
    answers = [  # crops at 0, 50 and 100 px down
        (tall[0], [Box(x1=10, y1=20, x2=40, y2=50), Box(x1=10, y1=60, x2=40, y2=90),
                   Box(x1=60, y1=70, x2=90, y2=99)]),  # the last at the crop's bottom cut
        (tall[1], [Box(x1=61, y1=20, x2=90, y2=49),  # that one whole
                   Box(x1=11, y1=10, x2=40, y2=40)]),  # the second one again
        (tall[2], [Box(x1=60, y1=0, x2=90, y2=1)]),  # at its top cut: dropped
    ]  # fmt: skip
    got = merged(answers, (100, 200), margin=0.02, dedup=0.5)
    assert got == [
        Box(x1=10, y1=20, x2=40, y2=50),
        Box(x1=10, y1=60, x2=40, y2=90),
        Box(x1=61, y1=70, x2=90, y2=99),
    ]


def test_a_tile_box_on_a_listed_neighbour_is_a_mix_up() -> None:
    listed = [Obj("yellow diamond", Box(x1=0, y1=0, x2=10, y2=10)),
              Obj("yellow circle", Box(x1=50, y1=50, x2=60, y2=60))]  # fmt: skip
    boxes = [Box(x1=0, y1=0, x2=10, y2=11), Box(x1=50, y1=50, x2=60, y2=60),
             Box(x1=80, y1=80, x2=90, y2=90)]  # fmt: skip
    # the diamond is not the circle; the listed circle and an unlisted box stand
    assert checked(boxes, listed, "Yellow circle") == boxes[1:]
    assert checked(boxes, listed, "yellow diamond") == [boxes[0], boxes[2]]
