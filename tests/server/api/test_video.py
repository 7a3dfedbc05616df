"""Clips from real files: animated GIF and WebP (Pillow), MP4 (OpenCV), under limits."""

from __future__ import annotations

import io

import numpy as np
import pytest

from locvlm.api.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from locvlm.api.video import VideoLimits, decode_video, video_header
from tests.server.api.clips import ENCODERS, animated, clip, mp4


@pytest.mark.parametrize("fmt", list(ENCODERS))
def test_every_frame_comes_back_in_order(fmt: str) -> None:
    frames = clip(10)
    data = ENCODERS[fmt](frames)
    header = video_header(data, VideoLimits())
    assert (header.format, header.frames, header.size) == (fmt, 10, (160, 96))
    assert header.seconds == pytest.approx(1.0, abs=0.05)
    decoded = decode_video(data, VideoLimits())
    assert len(decoded) == 10
    for ours, theirs in zip(decoded, frames, strict=True):
        assert ours.mode == "RGB"
        assert ours.size == theirs.size
        error = np.abs(np.asarray(ours, float) - np.asarray(theirs, float)).mean()
        assert error < (12 if fmt == "MP4" else 3)  # lossy video; GIF palettes, exact WebP


@pytest.mark.parametrize("fmt", list(ENCODERS))
def test_too_many_frames_are_refused_before_decoding(fmt: str) -> None:
    data = ENCODERS[fmt](clip(10))
    with pytest.raises(PayloadTooLargeError, match="10 frames; the limit is 8"):
        video_header(data, VideoLimits(max_frames=8))


def test_a_clip_too_long_or_too_large_is_refused() -> None:
    slow = animated(clip(8), "GIF", ms=2000)  # 16 s
    with pytest.raises(PayloadTooLargeError, match=r"lasts 16\.0 s"):
        video_header(slow, VideoLimits(max_seconds=10))
    with pytest.raises(PayloadTooLargeError, match="MP together"):
        video_header(slow, VideoLimits(max_pixels=8 * 160 * 96 - 1))
    with pytest.raises(PayloadTooLargeError, match="bytes"):
        video_header(slow, VideoLimits(max_bytes=len(slow) - 1))


def test_other_files_are_unsupported_and_broken_ones_invalid() -> None:
    png = io.BytesIO()
    clip(1)[0].save(png, format="PNG")
    with pytest.raises(UnsupportedMediaTypeError, match="GIF, WEBP, MP4"):
        video_header(png.getvalue(), VideoLimits())
    broken = mp4(clip(8))
    with pytest.raises(InvalidRequestError, match="MP4 file is corrupt"):
        decode_video(broken[:64], VideoLimits())
    gif = animated(clip(8), "GIF")
    with pytest.raises(InvalidRequestError, match="GIF file is corrupt"):
        decode_video(gif[:40], VideoLimits())
