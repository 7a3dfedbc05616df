import pytest

from locvlm.coords import get_codec
from locvlm.eval.questions import question
from locvlm_client import Box

CODEC = get_codec("ivb", bins=100)
SIZE = [200, 100]
RED = [20, 10, 60, 50]
BLUE = [120, 40, 160, 80]
RED_TEXT = CODEC.encode([Box.from_xyxy(RED)], SIZE)  # '[10, 10, 30, 50]'
BLUE_TEXT = CODEC.encode([Box.from_xyxy(BLUE)], SIZE)
EVIDENCE = [{"category": "red circle", "box": RED}, {"category": "blue square", "box": BLUE}]


def _row(task: str, args: dict, expected: dict) -> dict:
    return {
        "id": "x",
        "bench": "b",
        "task": task,
        "size": SIZE,
        "image": "i.png",
        "args": args,
        "expected": expected,
    }


@pytest.mark.parametrize(
    ("row", "answer", "right"),
    [
        (
            _row("locpred", {"phrase": "red circle"}, {"boxes": [RED]}),
            RED_TEXT,
            True,
        ),  # grounding right
        (
            _row("locpred", {"phrase": "red circle"}, {"boxes": [RED]}),
            BLUE_TEXT,
            False,
        ),  # wrong object
        (
            _row("negpred", {"phrase": "green star"}, {"boxes": []}),
            "There is no green star.",
            True,
        ),  # absent said absent
        (
            _row("negpred", {"phrase": "green star"}, {"boxes": []}),
            RED_TEXT,
            False,
        ),  # hallucinated box
        (_row("exists", {"phrase": "red circle"}, {"answer": "yes"}), "yes", True),  # POPE yes
        (
            _row("exists", {"phrase": "red circle"}, {"answer": "no"}),
            "yes",
            False,
        ),  # POPE false positive
        (
            _row("revloc", {"box": RED}, {"category": "red circle"}),
            "red circle",
            True,
        ),  # reverse location
        (
            _row("revloc", {"box": RED}, {"category": "red circle"}),
            "blue square",
            False,
        ),  # wrong name
        (
            _row(
                "region",
                {"box": RED},
                {"category": "red circle", "valid": [["left of", "blue square"]]},
            ),
            "the red circle left of the blue square",
            True,
        ),  # contextual right
        (
            _row(
                "region",
                {"box": RED},
                {"category": "red circle", "valid": [["left of", "blue square"]]},
            ),
            "the red circle right of the blue square",
            False,
        ),  # wrong relation
        (
            _row(
                "spatial_yes_no",
                {"subject": "red circle", "relation": "left of", "reference": "blue square"},
                {"answer": "yes"},
            ),
            "yes",
            True,
        ),  # yes/no
        (
            _row(
                "spatial_side",
                {"subject": "red circle", "reference": "blue square", "axis": "horizontal"},
                {"answer": "left"},
            ),
            "right",
            False,
        ),  # side wrong
        (_row("counting", {"phrase": "red circle"}, {"count": 2}), "2", True),  # counting
        (_row("counting", {"phrase": "red circle"}, {"count": 2}), "many", False),  # unparsed count
    ],
)
def test_judging(row: dict, answer: str, right: bool) -> None:
    q = question(row, CODEC, evidence=False)
    assert q is not None
    assert q.judge(answer).correct is right


def test_prompts_use_the_models_codec() -> None:
    row = _row("revloc", {"box": RED}, {"category": "red circle"})
    assert RED_TEXT in question(row, CODEC, False).prompt  # type: ignore[union-attr]
    nfp = get_codec("nfp")
    assert "[0.1000, 0.1000, 0.3000, 0.5000]" in question(row, nfp, False).prompt  # type: ignore[union-attr]


def test_evidence_is_judged_when_the_model_states_it() -> None:
    row = _row(
        "spatial_yes_no",
        {"subject": "red circle", "relation": "left of", "reference": "blue square"},
        {"answer": "yes", "evidence": EVIDENCE},
    )
    q = question(row, CODEC, evidence=True)
    assert q is not None
    judged = q.judge(f"red circle {RED_TEXT}; blue square {BLUE_TEXT}. Answer: yes")
    assert judged.correct
    assert judged.evidence is True
    assert q.judge(f"red circle {BLUE_TEXT}; blue square {RED_TEXT}. Answer: yes").evidence is False


def test_unsupported_task_is_skipped() -> None:
    assert question(_row("motion_direction", {}, {}), CODEC, False) is None
