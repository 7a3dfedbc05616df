"""Motion benchmark on a clips dataset (`locvlm data clips`): where, which way, ends where.

Per clip (the images sharing a `video_id`, ordered by `frame_index`):

- "Where is the {phrase}?" on one frame (`task: "locpred"`, `image`: that frame);
- "Which way does the {phrase} move?" (`task: "motion"`, `args: {phrase}`), only for
  objects whose motion is clearly one way (see `locvlm.tasks.motion.direction`);
- "Does the {subject} end up left of the {reference}?" (`task: "motion"`, `args:
  {subject, relation, reference}`), asked with "left of" and with "right of" (one yes,
  one no, in one `group`) about objects without horizontal overlap in the last frame.

Clip questions carry `"frames": [paths]` instead of `"image"`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from locvlm.coords.relations import Axis, Relation
from locvlm.data._bench import BenchImage, BenchSource, Kind, Media, facts_on_axis, row
from locvlm.data._rows import Row, box_list
from locvlm.data.coco import CocoDataset, CocoImage
from locvlm.tasks._text import yes_or_no
from locvlm.tasks.motion import Clip, direction

__all__ = ["MOTION", "ClipUnit", "clip_frames"]

_ASKED = (Relation.LEFT_OF, Relation.RIGHT_OF)


def clip_frames(dataset: CocoDataset) -> dict[int, list[CocoImage]]:
    """The frames of each clip, by video id, in frame order.

    Raises:
        ValueError: when no image has a `video_id` (not a clips dataset).
    """
    clips: dict[int, list[CocoImage]] = defaultdict(list)
    for image in dataset.images:
        extra = image.model_extra or {}
        if "video_id" in extra:
            clips[int(extra["video_id"])].append(image)
    if not clips:
        raise ValueError(
            f"{dataset.source}: no image has a video_id; the motion benchmark needs a clips "
            "dataset (locvlm data clips)"
        )
    for frames in clips.values():
        frames.sort(key=lambda image: int((image.model_extra or {}).get("frame_index", 0)))
    return dict(clips)


@dataclass(frozen=True)
class ClipUnit:
    """One clip: its frames (as benchmark images) and the clip they make."""

    key: str  # the video id
    frames: tuple[BenchImage, ...]

    @property
    def clip(self) -> Clip:
        """The frames' scenes as a `Clip`."""
        return Clip.of([frame.scene for frame in self.frames])

    @property
    def media(self) -> Media:
        """Every frame's path, for the questions about the whole clip."""
        paths = tuple(frame.media.image or "" for frame in self.frames)
        return Media(self.frames[-1].media.size, frames=paths)


def _units(source: BenchSource) -> list[ClipUnit]:
    by_id = {image.key: image for image in source.images}
    return [
        ClipUnit(str(video), tuple(by_id[str(frame.id)] for frame in frames))
        for video, frames in clip_frames(source.dataset).items()
    ]


def _where(source: BenchSource, unit: ClipUnit, rng: random.Random) -> Iterator[Row]:
    asks = [(frame, c) for frame in unit.frames for c in frame.askable]
    for frame, phrase in source.pick(rng, asks):
        boxes = [box_list(obj.box) for obj in frame.scene.instances(phrase)]
        yield row(frame.media, "locpred", {"phrase": phrase}, {"boxes": boxes})


def _ways(source: BenchSource, unit: ClipUnit, rng: random.Random) -> Iterator[Row]:
    clip = unit.clip
    moving = [
        (category, way)
        for category in clip.categories
        if (track := clip.track(category)) and (way := direction(track, clip.size))
    ]
    for phrase, way in source.pick(rng, moving):
        yield row(unit.media, "motion", {"phrase": phrase}, {"answer": way.value})


def _endings(source: BenchSource, unit: ClipUnit, rng: random.Random) -> Iterator[Row]:
    singles = unit.frames[-1].singles
    facts = facts_on_axis(singles, Axis.HORIZONTAL, rng)
    for index, (a, b, holds) in enumerate(source.pick(rng, facts)):
        names = {"subject": a.category, "reference": b.category}
        for asked in _ASKED:
            args = {**names, "relation": asked.value}
            expected = {"answer": yes_or_no(asked is holds)}
            yield row(unit.media, "motion", args, expected, group=f"motion/{unit.key}/{index}")


def _rows(source: BenchSource, unit: ClipUnit, rng: random.Random) -> Iterator[Row]:
    for part in (_where, _ways, _endings):
        yield from part(source, unit, rng)


MOTION: Kind[ClipUnit] = Kind(
    count=lambda dataset: len(clip_frames(dataset)), units=_units, rows=_rows
)
"""The `motion` kind: its units are clips."""
