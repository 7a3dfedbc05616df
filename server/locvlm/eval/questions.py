"""Benchmark rows -> prompts for a given model, and model text -> right or wrong.

A benchmark row stores a task's inputs in pixels (`args`) and its structured expected
answer, never a prompt: the prompt is written here with the *model's* codec and the
task's canonical wording, so one benchmark scores models of any coordinate format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from locvlm.coords import Codec
from locvlm.coords.relations import Axis, Relation
from locvlm.eval.scoring import boxes_match, evidence_correct
from locvlm.tasks import counting, locpred, negpred, region, revloc, spatial
from locvlm_client import Box

__all__ = ["JUDGES", "Judged", "Question", "question"]

Args = Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    """What to ask, and how to judge the answer."""

    prompt: str
    judge: Callable[[str], Judged]


@dataclass(frozen=True)
class Judged:
    """A judged answer: right or wrong, parsed or not, and the reading (for reports)."""

    correct: bool
    parsed: bool
    said: Any = None
    evidence: bool | None = None  # spatial: the stated boxes match the objects


def _box(value: Any) -> Box:
    return Box.from_xyxy([float(v) for v in value])


def _ground(args: Args, exp: Args, codec: Codec, size: tuple[int, int], _: bool) -> Question:
    want = [_box(b) for b in exp["boxes"]]

    def judge(text: str) -> Judged:
        got = locpred.parse(text, codec, size)
        ok = got is not None and boxes_match(list(got.boxes), want)
        return Judged(
            ok, got is not None, None if got is None else [b.to_xyxy() for b in got.boxes]
        )

    return Question(locpred.prompt(args["phrase"]), judge)


def _exists(args: Args, exp: Args, codec: Codec, size: tuple[int, int], _: bool) -> Question:
    def judge(text: str) -> Judged:
        got = negpred.parse_exists(text)
        return Judged(got is not None and got == (exp["answer"] == "yes"), got is not None, got)

    return Question(negpred.exists_prompt(args["phrase"]), judge)


def _revloc(args: Args, exp: Args, codec: Codec, size: tuple[int, int], _: bool) -> Question:
    def judge(text: str) -> Judged:
        got = revloc.parse(text, exp.get("vocabulary") or [exp["category"]])
        said = None if got is None else got.category or got.text
        return Judged(said == exp["category"], got is not None, said)

    return Question(revloc.prompt(_box(args["box"]), codec, size), judge)


def _region(args: Args, exp: Args, codec: Codec, size: tuple[int, int], _: bool) -> Question:
    valid = {(rel, other) for rel, other in exp.get("valid", [])}

    def judge(text: str) -> Judged:
        got = region.parse(text)
        if got is None:
            return Judged(False, False)
        rel = None if got.relation is None else got.relation.value
        ok = got.category == exp["category"] and (
            (rel, got.other) in valid if valid else rel is None
        )
        return Judged(ok, True, [got.category, rel, got.other])

    return Question(region.prompt(_box(args["box"]), codec, size, context=True), judge)


def _spatial(kind: str) -> Callable[[Args, Args, Codec, tuple[int, int], bool], Question]:
    def build(
        args: Args, exp: Args, codec: Codec, size: tuple[int, int], evidence: bool
    ) -> Question:
        subject, reference = args["subject"], args["reference"]
        if kind == "yes_no":
            text = spatial.yes_no_prompt(subject, Relation(args["relation"]), reference)
            want: Any = exp["answer"] == "yes"
        else:
            axis = Axis(args.get("axis", "horizontal"))
            text = spatial.side_prompt(subject, reference, axis)
            want = {w: r for r, w in spatial.SIDE_WORDS.items()}[exp["answer"]]
        boxes = exp.get("evidence")

        def judge(answer: str) -> Judged:
            got = spatial.parse(answer, kind, codec, size)
            ev = None
            if evidence and boxes is not None:
                ev = evidence_correct(got, _evidence(boxes))
            return Judged(got.value == want, got.value is not None, got.value, ev)

        return Question(text, judge)

    return build


def _evidence(items: list[Any]) -> spatial.SpatialAnswer:
    """Expected evidence: `{"category", "box"}` objects (or `[category, box]` pairs)."""
    from locvlm.tasks import Obj

    pairs = [(i["category"], i["box"]) if isinstance(i, dict) else i for i in items]
    return spatial.SpatialAnswer(None, tuple(Obj(c, _box(b)) for c, b in pairs))


def _count(args: Args, exp: Args, codec: Codec, size: tuple[int, int], _: bool) -> Question:
    def judge(text: str) -> Judged:
        got = counting.parse(text)
        return Judged(got == exp["count"], got is not None, got)

    return Question(counting.prompt(args["phrase"]), judge)


JUDGES: dict[str, Callable[[Args, Args, Codec, tuple[int, int], bool], Question]] = {
    "locpred": _ground,
    "negpred": _ground,  # the same question about an absent phrase: expected boxes []
    "exists": _exists,
    "revloc": _revloc,
    "region": _region,
    "spatial_yes_no": _spatial("yes_no"),
    "spatial_side": _spatial("side"),
    "counting": _count,
}
"""Per benchmark task: build the question for a model and its judge."""


def question(row: Mapping[str, Any], codec: Codec, evidence: bool) -> Question | None:
    """The question of a benchmark row for a model, or None for an unsupported task."""
    build = JUDGES.get(str(row["task"]))
    if build is None:
        return None
    size = (int(row["size"][0]), int(row["size"][1]))
    return build(row.get("args", {}), row.get("expected", {}), codec, size, evidence)
