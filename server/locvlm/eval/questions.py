"""Benchmark rows -> prompts for a given model, and model text -> right or wrong.

A benchmark row stores a task's inputs in pixels (`args`) and its structured expected
answer, never a prompt: the task (`TASKS[row["task"]]`) writes the prompt with the
*model's* codec and its canonical wording, and judges the answer, so one benchmark
scores models of any coordinate format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from locvlm.coords import Codec
from locvlm.coords.relations import Axis, Relation
from locvlm.engines.base import Constraint
from locvlm.tasks import TASKS, Judged, Task, detect, region, spatial
from locvlm.tasks.base import Obj, as_box
from locvlm.tasks.scoring import boxes_match
from locvlm.tasks.tiles import Crop, crop_size, crops, listed
from locvlm_client import Box

__all__ = ["SERVED", "BenchQuestion", "Judged", "bench_task", "question", "served_question"]

SERVED = "_served"
"""The suffix of a row's task name when it is asked the way the API asks it."""


@dataclass(frozen=True)
class BenchQuestion:
    """What to ask a model about one benchmark row, and how to judge its answer.

    `also`: more questions about the same image whose answers the judge needs too
    (`judge(text, *their_texts)`), as the API asks a listing beside region questions.
    `regexes`: the constraints the API decodes `prompt` and `also` with, as engines take
    them (`Constraint.for_engine`); empty: unconstrained, as the task's own question.
    """

    prompt: str
    judge: Callable[..., Judged]
    also: tuple[str, ...] = ()
    regexes: tuple[str | None, ...] = ()
    crops: tuple[Crop | None, ...] = ()
    """Where `prompt` and each of `also` is asked about a crop of the image (`tasks.tiles`):
    its box; None (or empty: for all), the whole image."""

    def asked(self) -> list[tuple[str, str | None, Crop | None]]:
        """`prompt`, then each of `also`: its constraint (None: unconstrained) and crop."""
        prompts = (self.prompt, *self.also)
        regexes = self.regexes or (None,) * len(prompts)
        crops = self.crops or (None,) * len(prompts)
        return list(zip(prompts, regexes, crops, strict=True))

    def constrained(self, regexes: Sequence[str | None]) -> BenchQuestion:
        """This question with the API's constraints (`Task.constraint`) of it and `also`."""
        engine = tuple(None if r is None else Constraint(regex=r).for_engine() for r in regexes)
        return replace(self, regexes=engine)


def bench_task(name: str, evidence: bool) -> Task[Any] | None:
    """The task that asks and judges benchmark task `name` for a model.

    A model trained to state its evidence first ("localize, then reason") is asked the
    `_evidence` variant where there is one. None when no task judges `name`.
    """
    task = TASKS.get(spatial.evidence_form(name, evidence)) or TASKS.get(name)
    return task if task is not None and task.judges else None


def question(row: Mapping[str, Any], codec: Codec, evidence: bool) -> BenchQuestion | None:
    """The question of a benchmark row for a model, or None for an unsupported task."""
    task = bench_task(str(row["task"]), evidence)
    if task is None:
        return None
    size = (int(row["size"][0]), int(row["size"][1]))
    args, expected = row.get("args", {}), row.get("expected", {})

    def judge(text: str) -> Judged:
        return task.judge(text, expected, codec, size)

    return BenchQuestion(task.prompt(args, codec, size), judge)


def served_question(
    row: Mapping[str, Any],
    codec: Codec,
    evidence: bool,
    listing: bool = False,
    grounds_from: str = "listing",
    vocabulary: Sequence[str] = (),
    tiles: bool = False,
    detect_tiles: bool = False,
) -> BenchQuestion | None:
    """A row asked the way the API asks it, where that differs from the task's question.

    A yes/no row as `/v1/spatial` asks it: the pair's side question, then compared. For
    a checkpoint read from its listing (`Sidecar.listing`): a RevLoc row as `/v1/describe`
    without context asks it, RevLoc's question and the listing, the category taken from
    the listing; a grounding row (present or absent phrase) as `/v1/ground` asks it,
    "List every object.", then the phrase's boxes taken from the listing (with
    `grounds_from` "answer": the phrase's own answer checked against the listing,
    `detect.checked`; with `tiles` too, a non-square image's phrase read from
    `/v1/detect`'s answer in tiles, `_Detection`); a region row in context as
    `/v1/describe` asks it, the region question and the listing, the relation taken from
    the listing; a detection row as `/v1/detect` asks it, the listing and each
    category's own grounding question, what the listing missed added (`detect.completed`;
    with `detect_tiles`, a non-square image's crops listed too, `tasks.tiles.listed`); a
    side or yes/no row with the listing beside, the side taken from it where it places
    both objects. None for any other row. The task's own question is still asked by
    `question`; this is what an API user gets for the same row, decoded with the
    constraints the API sets (`Task.constraint` with the model's `vocabulary`).
    """
    size = (int(row["size"][0]), int(row["size"][1]))
    if row["task"] in ("locpred", "negpred") and listing:
        if grounds_from == "answer" and tiles and (cut := crops(size)):
            return _by_detection(row, codec, size, vocabulary, cut)
        if grounds_from == "answer":
            return _checked_by_listing(row, codec, size, vocabulary)
        return _from_listing(row, codec, size, vocabulary)
    if row["task"] == "region" and listing:
        return _related_by_listing(row, codec, size, vocabulary)
    if row["task"] == "revloc" and listing:
        return _named_by_listing(row, codec, size, vocabulary)
    if row["task"] == "detect" and listing:
        return _detect_served(row, codec, size, vocabulary, crops(size) if detect_tiles else ())
    if row["task"] == "spatial_yes_no" or (row["task"] == "spatial_side" and listing):
        return _side_served(row, codec, size, evidence, listing, vocabulary)
    return None


def _side_served(
    row: Mapping[str, Any],
    codec: Codec,
    size: tuple[int, int],
    evidence: bool,
    listing: bool,
    vocabulary: Sequence[str],
) -> BenchQuestion | None:
    """A side or yes/no row as `/v1/spatial` asks it.

    The pair's side question (for a yes/no row, the side said is compared with the
    relation asked); for a checkpoint read from its listing, the side is the listing's
    where it places both objects (`spatial.side_in_listing`), the listing asked beside.
    """
    task = bench_task("spatial_side", evidence)
    if task is None:
        return None
    yes_no = row["task"] == "spatial_yes_no"
    args = spatial.side_args(row["args"]) if yes_no else row["args"]
    axis, lister = Axis(args["axis"]), TASKS["detect"]

    def judge(text: str, listing_text: str | None = None) -> Judged:
        side = task.read(text, codec, size).value
        listed = None if listing_text is None else lister.read(listing_text, codec, size)
        if listed and (found := spatial.side_in_listing(listed, args["subject"],
                                                        args["reference"], axis)):  # fmt: skip
            side = found.value
        side = side if isinstance(side, Relation) else None
        if yes_no:
            said = spatial.yes_from_side(side, Relation(row["args"]["relation"]))
            return Judged(said is (row["expected"]["answer"] == "yes"), said is not None, said)
        right = side is not None and spatial.answer(side) == row["expected"]["answer"]
        return Judged(right, side is not None, side)

    also = (lister.prompt({}, codec, size),) if listing else ()
    regexes = [task.constraint(args, codec, vocabulary)]
    regexes += [lister.constraint({}, codec, vocabulary)] if listing else []
    return BenchQuestion(task.prompt(args, codec, size), judge, also).constrained(regexes)


def _from_listing(
    row: Mapping[str, Any], codec: Codec, size: tuple[int, int], vocabulary: Sequence[str]
) -> BenchQuestion:
    """A grounding row answered from the listing of every object (right: the same boxes).

    Where the listing names none of the phrase, the phrase's own answer is the API's
    second look (`detect.grounded`); answers saved before it existed are judged without.
    """
    listing, own_task, phrase = TASKS["detect"], TASKS["locpred"], str(row["args"]["phrase"])
    want = [as_box(b) for b in row.get("expected", {}).get("boxes", [])]

    def judge(text: str, own_text: str | None = None) -> Judged:
        listed = listing.read(text, codec, size)
        if listed is None:
            return Judged(False, False)
        own = None if own_text is None else own_task.read(own_text, codec, size)
        got = list(detect.grounded(listed, phrase, () if own is None else own.boxes))
        return Judged(boxes_match(got, want), True, [b.to_xyxy() for b in got])

    own_prompt = own_task.prompt({"phrase": phrase}, codec, size)
    regexes = [listing.constraint({}, codec, vocabulary),
               own_task.constraint({"phrase": phrase}, codec, vocabulary)]  # fmt: skip
    return BenchQuestion(listing.prompt({}, codec, size), judge, (own_prompt,)).constrained(regexes)


def _checked_by_listing(
    row: Mapping[str, Any], codec: Codec, size: tuple[int, int], vocabulary: Sequence[str]
) -> BenchQuestion:
    """A grounding row answered by the phrase's own answer checked against the listing."""
    listing, own_task, phrase = TASKS["detect"], TASKS["locpred"], str(row["args"]["phrase"])
    want = [as_box(b) for b in row.get("expected", {}).get("boxes", [])]

    def judge(text: str, listing_text: str) -> Judged:
        listed, own = listing.read(listing_text, codec, size), own_task.read(text, codec, size)
        if listed is None:  # as the API: the own answer alone
            return own_task.judge(text, row.get("expected", {}), codec, size)
        got = list(detect.checked(listed, phrase, () if own is None else own.boxes))
        return Judged(boxes_match(got, want), True, [b.to_xyxy() for b in got])

    prompt = own_task.prompt({"phrase": phrase}, codec, size)
    regexes = [own_task.constraint({"phrase": phrase}, codec, vocabulary),
               listing.constraint({}, codec, vocabulary)]  # fmt: skip
    return BenchQuestion(prompt, judge, (listing.prompt({}, codec, size),)).constrained(regexes)


@dataclass(frozen=True)
class _Detection:
    """`/v1/detect`'s questions about one image, and its answers read as the API does.

    As `serving.detect.detected` asks and reads them: the listing, each category's own
    grounding question (the second look); with `cut` (a checkpoint that detects in
    tiles), each crop's listing and each category's own question about each crop. The
    API asks a crop's category only where `tiles.to_confirm` names it; all are asked
    here, for the reader to take those (the same greedy answers).
    """

    codec: Codec
    size: tuple[int, int]
    vocabulary: Sequence[str]
    args: Mapping[str, Any]
    cut: Sequence[Crop] = ()

    @property
    def categories(self) -> list[str]:
        """Those asked about (the row's, else the vocabulary's)."""
        return list(self.args.get("categories") or self.vocabulary)

    def question(self, judge: Callable[..., Judged]) -> BenchQuestion:
        """The questions, with `judge` (taking every answer's text, as `found` does)."""
        listing, own_task, codec, size = TASKS["detect"], TASKS["locpred"], self.codec, self.size
        looks = tuple(own_task.prompt({"phrase": c}, codec, size) for c in self.categories)
        own = [own_task.constraint({"phrase": c}, codec, self.vocabulary) for c in self.categories]
        prompt = listing.prompt(self.args, codec, size)
        regexes = [listing.constraint(self.args, codec, self.vocabulary), *own]
        if not self.cut:
            return BenchQuestion(prompt, judge, looks).constrained(regexes)
        n = len(self.cut)
        also = (*looks, *(prompt,) * n, *looks * n)
        where = (None, *(None,) * len(looks), *self.cut, *(c for c in self.cut for _ in looks))
        regexes += [regexes[0]] * n + own * n
        return BenchQuestion(prompt, judge, also, crops=where).constrained(regexes)

    def found(self, text: str, *also: str) -> tuple[list[Obj], bool]:
        """The objects the API returns from these answers; whether the listing was read."""
        listing, codec, size, n = TASKS["detect"], self.codec, self.size, len(self.categories)
        whole = listing.read(text, codec, size)  # None: unreadable, as the API nothing listed
        answers = {c: self._boxes(t, size) for c, t in zip(self.categories, also, strict=False)}
        objects = list(whole or ())
        if self.cut:
            listings = [(c, listing.read(t, codec, crop_size(c)) or ())
                        for c, t in zip(self.cut, also[n:], strict=False)]  # fmt: skip
            looks = also[n + len(self.cut) :]
            crop_looks = {
                (k, category): self._boxes(looks[k * n + j], crop_size(c))
                for k, c in enumerate(self.cut)
                for j, category in enumerate(self.categories)
            }
            objects = [o for _, _, o in listed(listings, objects, answers, crop_looks, size)]
        return [*objects, *detect.completed(objects, answers)], whole is not None

    def _boxes(self, text: str, size: tuple[int, int]) -> list[Box]:
        said = TASKS["locpred"].read(text, self.codec, size)
        return list(said.boxes) if said else []


def _by_detection(
    row: Mapping[str, Any],
    codec: Codec,
    size: tuple[int, int],
    vocabulary: Sequence[str],
    cut: Sequence[Crop],
) -> BenchQuestion:
    """A grounding row of a non-square image as `/v1/ground` answers it in tiles.

    The boxes of the phrase's category among the objects `/v1/detect` finds in tiles
    (`_Detection`).
    """
    phrase = str(row["args"]["phrase"])
    want = [as_box(b) for b in row.get("expected", {}).get("boxes", [])]
    detection = _Detection(codec, size, vocabulary, {}, cut)

    def judge(*texts: str) -> Judged:
        objects, _ = detection.found(*texts)
        got = [o.box for o in objects if o.category == phrase]
        return Judged(boxes_match(got, want), True, [b.to_xyxy() for b in got])

    return detection.question(judge)


def _detect_served(
    row: Mapping[str, Any],
    codec: Codec,
    size: tuple[int, int],
    vocabulary: Sequence[str],
    cut: Sequence[Crop] = (),
) -> BenchQuestion:
    """A detection row as `/v1/detect` answers it: the listing, with its second look.

    Each category (the row's, else the vocabulary's) is asked its own grounding question
    beside the listing; their boxes where nothing is listed are added (`detect.completed`).
    With `cut` (a checkpoint that detects in tiles): each crop's listing too, the crops'
    objects checked (`tasks.tiles.listed`) are the listing (`_Detection`).
    """
    detection = _Detection(codec, size, vocabulary, row.get("args", {}), cut)

    def judge(*texts: str) -> Judged:
        objects, parsed = detection.found(*texts)
        judged = detect.judged(objects, row["expected"])
        return judged if parsed else replace(judged, parsed=False)

    return detection.question(judge)


def _named_by_listing(
    row: Mapping[str, Any], codec: Codec, size: tuple[int, int], vocabulary: Sequence[str]
) -> BenchQuestion:
    """A RevLoc row as `/v1/describe` answers it without context, with the listing.

    The category is the listed object's at the region, else the model's own answer
    (`region.named_in_listing`); an unreadable listing leaves the model's own answer.
    """
    task, lister = TASKS["revloc"], TASKS["detect"]
    args, expected = row["args"], row.get("expected", {})

    def judge(text: str, listing_text: str) -> Judged:
        said, listed = task.read(text, codec, size), lister.read(listing_text, codec, size)
        if said is not None and listed is not None:
            named = region.named_in_listing(said.category or said.text, as_box(args["box"]), listed)
            return task.judge(named, expected, codec, size)
        return task.judge(text, expected, codec, size)

    regexes = [task.constraint(args, codec, vocabulary), lister.constraint({}, codec, vocabulary)]
    also = (lister.prompt({}, codec, size),)
    return BenchQuestion(task.prompt(args, codec, size), judge, also).constrained(regexes)


def _related_by_listing(
    row: Mapping[str, Any], codec: Codec, size: tuple[int, int], vocabulary: Sequence[str]
) -> BenchQuestion:
    """A region row as `/v1/describe` answers it in context, with the listing (`region.in_scene`).

    When either answer cannot be read, the model's own description is judged.
    """
    task, listing = TASKS["region"], TASKS["detect"]
    args, expected = row["args"], row.get("expected", {})

    def judge(text: str, listing_text: str) -> Judged:
        said, listed = region.parse(text), listing.read(listing_text, codec, size)
        if said is not None and listed is not None:
            _, text = region.in_scene(said.category, as_box(args["box"]), listed)
        return task.judge(text, expected, codec, size)

    regexes = [task.constraint(args, codec, vocabulary), listing.constraint({}, codec, vocabulary)]
    also = (listing.prompt({}, codec, size),)
    return BenchQuestion(task.prompt(args, codec, size), judge, also).constrained(regexes)
