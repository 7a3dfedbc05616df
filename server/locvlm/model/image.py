"""The image as the model sees it: RGB, squashed to its square input (bicubic, with PIL).

    pixels = square(image, sidecar.image_size)

Squashing keeps normalized coordinates valid for every aspect ratio. Training
(`inputs.pixels`) and every engine go through this one function, so they all see
identical pixels; an image already at size comes back as it is (no copy), so squashing
early (`locvlm.serving.context`) makes every later call free.
"""

from __future__ import annotations

from PIL import Image

__all__ = ["square"]


def square(image: Image.Image, side: int) -> Image.Image:
    """`image` as RGB, `side` x `side`; itself when it already is.

    Raises:
        OSError: a lazily opened file that does not decode (truncated, corrupt): decoded
            here, so the caller that squashes is the one that fails.
    """
    image.load()  # a no-op once decoded
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size == (side, side):
        return image
    return image.resize((side, side), Image.Resampling.BICUBIC)
