"""Video files as frames: animated GIF and WebP (Pillow), MP4 (OpenCV), under limits.

Everything that can be refused is refused from the file's header before a frame is
decoded: the bytes, the frame count, the duration (the file's own frame timing) and the
pixels of all frames together (`VideoLimits`). Frames come back as RGB images of one
size, as the image endpoints decode theirs (`locvlm.api.images`).

    header = video_header(data, limits)   # frames, size, seconds: nothing decoded
    frames = decode_video(data, limits)   # [PIL.Image, ...]
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
from PIL import Image, ImageSequence, UnidentifiedImageError

from locvlm.api.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

if TYPE_CHECKING:  # settings.py takes its defaults from here
    from locvlm.api.settings import Settings

__all__ = ["VideoHeader", "VideoLimits", "check_clip", "decode_video", "video_header"]

log = logging.getLogger(__name__)

FORMATS = ("GIF", "WEBP", "MP4")


@dataclass(frozen=True)
class VideoLimits:
    """What a clip may cost before its frames are decoded."""

    max_bytes: int = 7_500_000  # the file; still under the request limit as base64
    max_frames: int = 64  # each frame is one grounding call per phrase
    max_seconds: float = 60.0
    max_pixels: int = 80_000_000  # all frames together (the decoded-pixel budget's default)

    @classmethod
    def from_settings(cls, settings: Settings) -> VideoLimits:
        """The limits the server's settings describe."""
        return cls(
            max_bytes=settings.max_video_bytes,
            max_frames=settings.max_video_frames,
            max_seconds=settings.max_video_seconds,
            max_pixels=settings.max_video_pixels,
        )


@dataclass(frozen=True)
class VideoHeader:
    """What a video file says about itself."""

    format: str  # one of FORMATS
    frames: int
    size: tuple[int, int]  # (width, height)
    seconds: float  # 0 when the file gives no timing

    @property
    def pixels(self) -> int:
        """Pixels of all frames together."""
        return self.frames * self.size[0] * self.size[1]


def check_clip(frames: int, size: tuple[int, int], seconds: float, limits: VideoLimits,
               param: str | None) -> None:  # fmt: skip
    """Refuse a clip over `limits`.

    Raises:
        PayloadTooLargeError: 413, too many frames, too long, or too many pixels.
        InvalidRequestError: 400, no frames.
    """
    if frames < 1:
        raise InvalidRequestError("the clip has no frames", param=param)
    if frames > limits.max_frames:
        raise PayloadTooLargeError(
            f"the clip has {frames} frames; the limit is {limits.max_frames}", param=param
        )
    if seconds > limits.max_seconds:
        raise PayloadTooLargeError(
            f"the clip lasts {seconds:.1f} s; the limit is {limits.max_seconds:g} s", param=param
        )
    if frames * size[0] * size[1] > limits.max_pixels:
        raise PayloadTooLargeError(
            f"the clip's {frames} frames of {size[0]}x{size[1]} are over "
            f"{limits.max_pixels / 1e6:g} MP together",
            param=param,
        )


def video_header(data: bytes, limits: VideoLimits, *, param: str | None = "video") -> VideoHeader:
    """The file's format, frame count, frame size and duration, checked against `limits`.

    Raises:
        PayloadTooLargeError: 413, over a limit.
        UnsupportedMediaTypeError: 415, not a GIF, WebP or MP4.
        InvalidRequestError: 400, a file of one of those formats that does not parse.
    """
    if len(data) > limits.max_bytes:
        raise PayloadTooLargeError(f"the video is over {limits.max_bytes} bytes", param=param)
    kind = _sniff(data)
    if kind is None:
        raise UnsupportedMediaTypeError(
            f"not a video in an accepted format ({', '.join(FORMATS)})", param=param
        )
    try:
        header = _mp4_header(data) if kind == "MP4" else _animated_header(data, kind, limits, param)
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError, cv2.error):
        log.debug("video header failed to parse", exc_info=True)
        raise InvalidRequestError(f"the {kind} file is corrupt or truncated", param=param) from None
    check_clip(header.frames, header.size, header.seconds, limits, param)
    return header


def decode_video(
    data: bytes, limits: VideoLimits, *, param: str | None = "video"
) -> list[Image.Image]:
    """Every frame of the file as RGB, in order (see `video_header` for what is refused).

    Raises:
        The errors of `video_header`, and InvalidRequestError (400) for frames that do
        not decode.
    """
    header = video_header(data, limits, param=param)
    try:
        frames = list(_mp4_frames(data) if header.format == "MP4" else _pil_frames(data))
    except (OSError, ValueError, SyntaxError, cv2.error):
        log.debug("video failed to decode", exc_info=True)
        raise InvalidRequestError(
            f"the {header.format} file is corrupt or truncated", param=param
        ) from None
    # A file may decode more frames than its header said; the limits hold either way.
    check_clip(len(frames), header.size, header.seconds, limits, param)
    return frames


def _sniff(data: bytes) -> str | None:
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        return "MP4"
    return None


def _animated_header(data: bytes, kind: str, limits: VideoLimits, param: str | None) -> VideoHeader:
    with Image.open(io.BytesIO(data), formats=(kind,)) as opened:
        frames = int(getattr(opened, "n_frames", 1))
        check_clip(frames, opened.size, 0.0, limits, param)  # before any frame is read
        if kind == "WEBP":  # Pillow gives a WebP frame's duration only once it is decoded
            milliseconds = _webp_durations(data)
        else:
            milliseconds = sum(int(f.info.get("duration", 0) or 0)
                               for f in ImageSequence.Iterator(opened))  # fmt: skip
        return VideoHeader(kind, frames, opened.size, milliseconds / 1000)


def _webp_durations(data: bytes) -> int:
    """The sum of an animated WebP's frame durations (ms), from its ANMF chunk headers."""
    total, at = 0, 12  # after "RIFF", the file size and "WEBP"
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        if data[at : at + 4] == b"ANMF":  # x, y, width-1, height-1 (24 bits each), duration
            total += int.from_bytes(data[at + 20 : at + 23], "little")
        at += 8 + size + (size & 1)  # chunks are padded to an even size
    return total


def _pil_frames(data: bytes) -> Iterator[Image.Image]:
    with Image.open(io.BytesIO(data)) as opened:
        for frame in ImageSequence.Iterator(opened):
            rgba = frame.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba)
            yield flat


@contextmanager
def _capture(data: bytes) -> Iterator[cv2.VideoCapture]:
    """An OpenCV capture of `data` (it reads files only: a temporary one)."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as file:
        file.write(data)
        file.flush()
        capture = cv2.VideoCapture(file.name)
        try:
            if not capture.isOpened():
                raise ValueError("OpenCV cannot open the file")
            yield capture
        finally:
            capture.release()


def _mp4_header(data: bytes) -> VideoHeader:
    with _capture(data) as capture:
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            raise ValueError("no frame size")
        return VideoHeader("MP4", frames, (width, height), frames / fps if fps > 0 else 0.0)


def _mp4_frames(data: bytes) -> Iterator[Image.Image]:
    with _capture(data) as capture:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
