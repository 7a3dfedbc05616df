"""Each task's output constraint accepts every target the task writes (and not junk)."""

import random
import re

import pytest

from locvlm.coords import get_codec
from locvlm.coords.relations import Axis
from locvlm.data.shapes import CATEGORIES
from locvlm.tasks import TASKS, counting, locpred, region, revloc
from tests.server.tasks.conftest import random_scene

CODECS = [get_codec("ivb", bins=32), get_codec("nfp"), get_codec("diga")]


def _constraint(task: str, turn_prompt: str, codec, phrase: str | None) -> str | None:  # type: ignore[no-untyped-def]
    """The task's own constraint for the arguments its prompt was written with."""
    vertical = any(w in turn_prompt for w in ("above", "higher", "over"))
    args = {"axis": Axis.VERTICAL if vertical else Axis.HORIZONTAL}
    if phrase is not None:
        args["phrase"] = phrase
    return TASKS[task].constraint(args, codec, CATEGORIES)


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_targets_match_their_constraints(codec) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(0)
    checked = 0
    for i in range(150):
        scene = random_scene(rng, size=(200, 120) if i % 2 else (96, 96))
        for name in (
            "locpred",
            "negpred",
            "revloc",
            "region",
            "region_plain",
            "detect",
            "counting",
            "exists",
        ):
            turn = TASKS[name].sample(scene, codec, rng, CATEGORIES)
            if turn is None:
                continue
            phrase = next((c for c in CATEGORIES if c in turn.prompt), None)
            pattern = _constraint(name, turn.prompt, codec, phrase)
            assert pattern is not None
            assert re.fullmatch(pattern, turn.answer), (name, turn.prompt, turn.answer)
            checked += 1
    assert checked > 500


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (
            locpred.answer_regex("red circle", get_codec("ivb")),
            "There is no blue square.",
        ),  # other phrase
        (locpred.answer_regex("red circle", get_codec("ivb")), "[1, 2, 3]"),  # three numbers
        (revloc.answer_regex(CATEGORIES), "red dog"),  # not in the vocabulary
        (
            region.answer_regex(CATEGORIES),
            "the red circle near the blue square",
        ),  # unknown relation
        (counting.answer_regex(), "two"),  # a word, not digits
    ],
)
def test_constraints_reject_other_text(pattern: str, text: str) -> None:
    assert re.fullmatch(pattern, text) is None
