"""Pseudo-labels: the model labels scenes it has never seen; consistency filters keep some.

The model lists every object of an image (detect), on the image and on its mirror image,
names each listed box (RevLoc) and grounds each listed category (LocPred). An object is
kept when the three agree:
- round trip: RevLoc names its box as the category the listing gave it;
- flip: the mirror image's listing has that category at the mirrored box;
- detect vs ground: grounding its category returns its box among the boxes found.
A scene is kept only when every object listed in it is kept, so that relations,
uniqueness and counts drawn from it are as complete as the model can tell. Boxes match at
IoU > 0.5 (`scoring.IOU_THRESHOLD`), as the benchmarks judge them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps

from locvlm.model.loading import LoadedModel, greedy
from locvlm.tasks import Obj, Scene, detect, locpred, revloc
from locvlm.tasks.scoring import IOU_THRESHOLD
from locvlm_client import Box

__all__ = ["Labelled", "Labeller", "label_precision"]

LISTING_TOKENS = 96  # five objects, label and box each, with room to spare


@dataclass(frozen=True)
class Labelled:
    """One image's pseudo-labels: what was listed, and what passed every filter."""

    image: Image.Image
    listed: tuple[Obj, ...]
    kept: tuple[Obj, ...]

    @property
    def complete(self) -> bool:
        """Every listed object passed: the scene can teach relations and counts."""
        return bool(self.listed) and len(self.kept) == len(self.listed)

    @property
    def scene(self) -> Scene:
        """The kept objects as a scene of the image's size."""
        return Scene(size=self.image.size, objects=self.kept)


def _mirror(box: Box, width: int) -> Box:
    return Box(x1=width - box.x2, y1=box.y1, x2=width - box.x1, y2=box.y2)


def _near(box: Box, others: Sequence[Box]) -> bool:
    """Whether a box of `others` matches `box` as the judges match boxes (IoU > 0.5)."""
    return any(box.iou(other) > IOU_THRESHOLD for other in others)


@dataclass
class Labeller:
    """Labels images with `model` (greedy, unconstrained, read tolerantly as eval does)."""

    model: LoadedModel
    batch_size: int = 32

    def _ask(
        self, images: Sequence[Image.Image], questions: Sequence[str], tokens: int
    ) -> list[str]:
        out: list[str] = []
        for start in range(0, len(images), self.batch_size):
            end = start + self.batch_size
            out += greedy(self.model.model, self.model.encoder, images[start:end],
                          questions[start:end], tokens)  # fmt: skip
        return out

    def listings(self, images: Sequence[Image.Image]) -> list[tuple[Obj, ...]]:
        """Every object the model lists in each image (empty when it lists none)."""
        texts = self._ask(images, [detect.prompt()] * len(images), LISTING_TOKENS)
        codec = self.model.codec
        return [detect.parse(t, codec, im.size) or () for t, im in zip(texts, images, strict=True)]

    def label(self, images: Sequence[Image.Image]) -> list[Labelled]:
        """List, mirror-list, name and ground; keep the objects all agree on."""
        listed = self.listings([*images, *(ImageOps.mirror(im) for im in images)])
        own, flipped = listed[: len(images)], listed[len(images) :]
        keys = list(dict.fromkeys(
            (i, q) for i, objects in enumerate(own) for o in objects
            for q in self._questions(o, images[i].size)
        ))  # fmt: skip
        texts = self._ask([images[i] for i, _ in keys], [q for _, q in keys], 32)
        said = dict(zip(keys, texts, strict=True))
        out = []
        for i, (image, objects) in enumerate(zip(images, own, strict=True)):
            kept = []
            for obj in objects:
                named, grounded = (said[(i, q)] for q in self._questions(obj, image.size))
                if self._agree(obj, image.size, named, grounded, flipped[i]):
                    kept.append(obj)
            out.append(Labelled(image, objects, tuple(kept)))
        return out

    def _questions(self, obj: Obj, size: tuple[int, int]) -> tuple[str, str]:
        """RevLoc about the object's box, LocPred about its category."""
        return revloc.prompt(obj.box, self.model.codec, size), locpred.prompt(obj.category)

    def _agree(
        self, obj: Obj, size: tuple[int, int], named: str, grounded: str, mirrored: Sequence[Obj]
    ) -> bool:
        """The three filters: RevLoc round trip, mirror-image listing, grounding."""
        said = revloc.parse(named, self.model.sidecar.vocabulary)
        if said is None or said.category != obj.category:
            return False
        mirror = [_mirror(o.box, size[0]) for o in mirrored if o.category == obj.category]
        found = locpred.parse(grounded, self.model.codec, size)
        return _near(obj.box, mirror) and found is not None and _near(obj.box, found.boxes)


def label_precision(labelled: Sequence[Labelled], truth: Sequence[Scene]) -> dict[str, float]:
    """How many listed and kept objects are right (category and box) against the truth.

    Also the recall of the kept scenes' objects: the share of true objects in complete
    scenes that were kept (a complete scene may still miss an object the model never saw).
    """

    def right(objects: Sequence[Obj], scene: Scene) -> int:
        return sum(_near(o.box, [t.box for t in scene.objects if t.category == o.category])
                   for o in objects)  # fmt: skip

    listed = sum(len(x.listed) for x in labelled)
    kept = sum(len(x.kept) for x in labelled)
    complete = [(x, s) for x, s in zip(labelled, truth, strict=True) if x.complete]
    truths = sum(len(s.objects) for _, s in complete)
    return {
        "scenes": len(labelled),
        "complete_scenes": len(complete),
        "listed": listed,
        "kept": kept,
        "listed_precision": sum(right(x.listed, s) for x, s in zip(labelled, truth, strict=True))
        / max(listed, 1),
        "kept_precision": sum(right(x.kept, s) for x, s in zip(labelled, truth, strict=True))
        / max(kept, 1),
        "complete_scene_exact": sum(
            len(x.kept) == len(s.objects) == right(x.kept, s) for x, s in complete
        ) / max(len(complete), 1),
        "complete_recall": sum(right(x.kept, s) for x, s in complete) / max(truths, 1),
    }  # fmt: skip
