"""Grounded listing, for the detect endpoint: every object with its box.

"List every object." -> `"red circle [12, 40, 30, 58]; blue square [60, 35, 80, 55]"`:
category and box (written by the codec) per instance, `"; "` between items, in reading
order; `"nothing"` when there is nothing to list. "List every red circle and blue
square." restricts the listing to the named categories. Spatial answers reuse this
listing as their evidence.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence

from locvlm.coords import Codec
from locvlm.tasks._text import NOTHING, join_and, normalize, one_of
from locvlm.tasks.base import (
    Args,
    Judged,
    Obj,
    Scene,
    Task,
    Turn,
    as_box,
    distinct,
    reading_key,
)
from locvlm.tasks.scoring import IOU_THRESHOLD
from locvlm_client import Box, SizeLike

__all__ = [
    "ALL_TEMPLATES",
    "ITEM_SEPARATOR",
    "SOME_TEMPLATES",
    "DetectTask",
    "answer",
    "checked",
    "completed",
    "grounded",
    "instances",
    "judged",
    "listing",
    "matched",
    "outside",
    "parse",
    "parse_listing",
    "prompt",
]

ALL_TEMPLATES = (
    "List every object.",
    "List all objects with their boxes.",
    "Detect every object in the image.",
    "Where are the objects in the image?",
)
SOME_TEMPLATES = (
    "List every {phrases}.",
    "Detect every {phrases} in the image.",
    "Find every {phrases}, with their boxes.",
)
"""Listing restricted to some categories; `{phrases}` joins them: "a, b and c"."""

ITEM_SEPARATOR = "; "
# A label written before its box: words of letters, when the codec's exact box is not found.
_LEADING_WORDS = re.compile(r"\W*([^\W\d_]+(?:[ '-]+[^\W\d_]+)*)")


def prompt(categories: Sequence[str] | None = None, template: int = 0) -> str:
    """The request to list every object, or only those of `categories`."""
    if not categories:
        return ALL_TEMPLATES[template]
    return SOME_TEMPLATES[template].format(phrases=join_and(list(categories)))


def listing(objects: Sequence[Obj], codec: Codec, size: SizeLike) -> str:
    """`objects` as written, in the given order: `"red circle [..]; blue square [..]"`."""
    return ITEM_SEPARATOR.join(f"{o.category} {codec.encode([o.box], size)}" for o in objects)


def listing_regex(codec: Codec, vocabulary: Sequence[str]) -> str:
    """The constraint of a non-empty listing: "<category> <box>" items joined by "; "."""
    item = f"{one_of(vocabulary)} {codec.box_regex}"
    return f"{item}(?:{re.escape(ITEM_SEPARATOR)}{item})*"


def answer_regex(codec: Codec, vocabulary: Sequence[str]) -> str:
    """The output constraint of a detect answer: a listing or "nothing"."""
    return f"(?:{listing_regex(codec, vocabulary)})|{re.escape(NOTHING)}"


def parse_listing(text: str, codec: Codec, size: SizeLike) -> tuple[Obj, ...]:
    """The labelled boxes of a listing, in text order.

    Items without a box are dropped, and so are repeats (`distinct`: an item with the
    label and nearly the box of an earlier one, what a decoding loop writes).
    """
    exact = list(re.finditer(codec.box_regex, text))
    if exact:
        starts = [0, *(m.end() for m in exact[:-1])]
        pairs = [(text[s : m.start()], m[0]) for s, m in zip(starts, exact, strict=True)]
    else:  # malformed boxes: split on semicolons and take the leading words as the label
        pairs = [_split_label(item) for item in text.split(ITEM_SEPARATOR.strip())]
    found = []
    for label, box_text in pairs:
        boxes = codec.decode(box_text, size)
        if boxes:
            found.append(Obj(category=normalize(label), box=boxes[0]))
    return distinct(found, lambda o: o.box, lambda a, b: a.category == b.category)


def answer(objects: Sequence[Obj], codec: Codec, size: SizeLike) -> str:
    """The target: `objects` listed in reading order, or `"nothing"`."""
    ordered = sorted(objects, key=lambda obj: reading_key(obj.box))
    return listing(ordered, codec, size) if ordered else NOTHING


def parse(text: str, codec: Codec, size: SizeLike) -> tuple[Obj, ...] | None:
    """The listed objects; empty for `"nothing"`; None when the text lists no box."""
    if normalize(text) == NOTHING:
        return ()
    return parse_listing(text, codec, size) or None


def instances(objects: Sequence[Obj], phrase: str) -> tuple[Box, ...]:
    """The boxes a listing gives `phrase` (a category as the listing writes it)."""
    return tuple(obj.box for obj in objects if obj.category == normalize(phrase))


def grounded(
    objects: Sequence[Obj], phrase: str, own: Sequence[Box] = (), overlap: float = 0.3
) -> tuple[Box, ...]:
    """A phrase's boxes read from a listing, with a second look where it names none.

    The listing's boxes of `phrase` (`instances`); when there are none, the boxes of the
    model's own answer about the phrase (`own`: LocPred's, asked as a second look) that
    no listed object covers (IoU > `overlap`). A listing misses objects, and an own box
    where nothing is listed is such a miss; an own box on a listed object of another
    category is that object (a same-colour or same-shape mix-up), not a miss, and the
    listing's word stands.
    """
    if found := instances(objects, phrase):
        return found
    return outside(own, [o.box for o in objects], overlap)


def checked(
    objects: Sequence[Obj], phrase: str, own: Sequence[Box], overlap: float = 0.5
) -> tuple[Box, ...]:
    """A phrase's own boxes checked against the listing of every object.

    Where the listing names none of `phrase`, an own box on a listed object of another
    category (IoU > `overlap`) is that object (a same-colour or same-shape mix-up) and is
    dropped; the listing's boxes of `phrase` that no own box covers (IoU > 0.3) are added
    (instances the own answer missed). Reading order.
    """
    named = instances(objects, phrase)
    others = [o.box for o in objects if o.category != normalize(phrase)]
    kept = list(own) if named else list(outside(own, others, overlap))
    return tuple(sorted([*kept, *outside(named, own)], key=reading_key))


def outside(own: Sequence[Box], listed: Sequence[Box], overlap: float = 0.3) -> tuple[Box, ...]:
    """The boxes of `own` that no box of `listed` covers (IoU > `overlap`)."""
    return tuple(b for b in own if all(b.iou(other) <= overlap for other in listed))


def completed(
    listed: Sequence[Obj], answers: Mapping[str, Sequence[Box]], overlap: float = 0.3
) -> tuple[Obj, ...]:
    """The objects a second look adds to a listing: each category's own boxes, unlisted.

    `answers` maps categories to the boxes of their own grounding answers (LocPred's,
    asked about each category after the listing). A box that no listed object and no
    object already added covers (IoU > `overlap`) is an object the listing missed; a box
    on a listed object is that object (the listing's label stands). In `answers`' order.
    """
    out: list[Obj] = []
    for category, boxes in answers.items():
        for box in boxes:
            if all(box.iou(o.box) <= overlap for o in [*listed, *out]):
                out.append(Obj(category, box))
    return tuple(out)


def judged(got: Sequence[Obj], expected: Args) -> Judged:
    """Objects found, against `expected["objects"]`: right when they match one to one.

    `said` counts found, expected and matched objects, for precision and recall.
    """
    want = [Obj(o["category"], as_box(o["box"])) for o in expected["objects"]]
    hits = matched(got, want)
    counts = {"predicted": len(got), "expected": len(want), "matched": hits}
    return Judged(hits == len(got) == len(want), True, counts)


def matched(got: Sequence[Obj], want: Sequence[Obj]) -> int:
    """How many of `got` match one of `want` each: same category, IoU > 0.5 (greedy)."""
    left = list(want)
    found = 0
    for obj in got:
        scores = [w.box.iou(obj.box) if w.category == obj.category else 0.0 for w in left]
        if scores and max(scores) > IOU_THRESHOLD:
            left.pop(scores.index(max(scores)))
            found += 1
    return found


def _split_label(item: str) -> tuple[str, str]:
    words = _LEADING_WORDS.match(item)
    return ("", item) if words is None else (words[1], item[words.end() :])


class DetectTask(Task[tuple[Obj, ...] | None]):
    """List every object, or the objects of a few categories (some maybe absent)."""

    name = "detect"
    templates = ALL_TEMPLATES + SOME_TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[tuple[Obj, ...] | None] | None:
        """List all objects, or (at even odds) one or two categories, possibly absent."""
        wanted: list[str] = []
        if rng.random() < 0.5:
            pool = scene.with_one_absent(vocabulary, rng)
            wanted = rng.sample(pool, k=min(len(pool), rng.choice((1, 2))))
        objects = [obj for obj in scene.ordered if not wanted or obj.category in wanted]
        templates = SOME_TEMPLATES if wanted else ALL_TEMPLATES
        question = prompt(wanted, rng.randrange(len(templates)))
        return self.turn(question, answer(objects, codec, scene.size), tuple(objects))

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> tuple[Obj, ...] | None:
        """See `parse`."""
        return parse(text, codec, size)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical listing request; `args["categories"]` (optional) restricts it."""
        return prompt(args.get("categories") or None)

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """A listing over the requested categories (else `vocabulary`), or "nothing"."""
        names = list(args.get("categories") or vocabulary)
        return answer_regex(codec, names) if names else None

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """Right when the listing matches `expected["objects"]` one to one.

        `said` counts listed, expected and matched objects, for precision and recall.
        """
        got = parse(text, codec, size)
        if got is None:  # unreadable: nothing found
            return Judged(False, False, judged((), expected).said)
        return judged(got, expected)
