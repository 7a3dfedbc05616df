"""Request and response bodies of the video endpoints (`/v1/video/track`, `/v1/video/ask`).

A clip is either a list of frames (each an image, as every other endpoint takes them) or
one video file: an animated GIF or WebP, or an MP4, as base64 `data` or an http(s) `url`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from locvlm_client._box import Box, ImageSize
from locvlm_client._types import CoordSpace, ImageInput, _Body, _Boxes

__all__ = [
    "Track",
    "VideoAnswerType",
    "VideoAskRequest",
    "VideoAskResponse",
    "VideoInput",
    "VideoTrackRequest",
    "VideoTrackResponse",
]

VideoAnswerType = Literal["direction", "yes_no", "free"]


class VideoInput(ImageInput):
    """A video file: exactly one of base64 `data` and an http(s) `url` (GIF, WebP, MP4)."""


class _Clip(_Body):
    frames: list[ImageInput] | None = Field(
        None, description="The clip's frames in order, each an image (all of one size)."
    )
    video: VideoInput | None = Field(None, description="Or one file: animated GIF/WebP, MP4.")
    coords: CoordSpace = Field(
        "pixel", description="Boxes in original pixels or normalized to [0, 1]."
    )

    @model_validator(mode="after")
    def _one_clip(self) -> _Clip:
        if (self.frames is None) == (self.video is None):
            raise ValueError("give exactly one of frames and video")
        if self.frames is not None and not self.frames:
            raise ValueError("frames must hold at least one image")
        return self


class VideoTrackRequest(_Clip):
    """Where is each phrase in every frame, linked into tracks?"""

    phrases: list[str] = Field(min_length=1, description="Phrases to track, e.g. 'red circle'.")


class Track(_Body):
    """One object followed through the clip."""

    id: int = Field(description="Unique within the response.")
    label: str = Field(description="The phrase it was grounded as.")
    boxes: list[Box | None] = Field(
        description="Its box in each frame, in frame order; null where it was not found."
    )

    @property
    def frames(self) -> list[int]:
        """The frames it was found in."""
        return [i for i, box in enumerate(self.boxes) if box is not None]


class VideoTrackResponse(_Boxes):
    """Tracks of every phrase, ids unique, boxes per frame."""

    image_size: ImageSize
    frames: int = Field(description="Frames read from the clip.")
    tracks: list[Track]
    warnings: list[str] = Field(
        default_factory=list, description="Phrases outside the model's vocabulary (not asked)."
    )

    def labelled(self) -> list[tuple[str, Box]]:
        """Each track's last box, labelled with its phrase."""
        out = []
        for track in self.tracks:
            last = next((box for box in reversed(track.boxes) if box is not None), None)
            if last is not None:
                out.append((track.label, last))
        return out


class VideoAskRequest(_Clip):
    """A motion question about the clip."""

    question: str = Field(
        min_length=1,
        description="e.g. 'Which way does the red circle move?' or "
        "'Does the red circle end up left of the blue square?'",
    )


class VideoAskResponse(_Body):
    """The answer, and the tracks it was reasoned from."""

    answer: str
    answer_type: VideoAnswerType
    tracks: list[Track] = Field(default_factory=list, description="The evidence tracks.")
    warning: str | None = None
