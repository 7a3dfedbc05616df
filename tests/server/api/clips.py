"""Real clip files for the video tests: animated GIF and WebP (Pillow), MP4 (OpenCV)."""

from __future__ import annotations

import io
import os
import tempfile

import cv2
import numpy as np
from PIL import Image

from locvlm.data.clips import render_clip
from locvlm.data.shapes import ShapesConfig


def clip(n: int = 10, size: tuple[int, int] = (160, 96)) -> list[Image.Image]:
    """`n` frames of a moving-shapes clip."""
    return render_clip((5, 1), max(n, 8), ShapesConfig(size=size))[0][:n]


def animated(frames: list[Image.Image], fmt: str, ms: int = 100) -> bytes:
    """`frames` as an animated GIF or (lossless) WebP, `ms` per frame."""
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=ms,
                   loop=0, **extra)  # fmt: skip
    return buf.getvalue()


def mp4(frames: list[Image.Image], fps: float = 10) -> bytes:
    """`frames` as an MP4 (OpenCV's mp4v encoder)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "clip.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].size)
        for frame in frames:
            writer.write(cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2BGR))
        writer.release()
        with open(path, "rb") as file:
            return file.read()


ENCODERS = {"GIF": lambda f: animated(f, "GIF"), "WEBP": lambda f: animated(f, "WEBP"), "MP4": mp4}
