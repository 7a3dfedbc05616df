"""Turn whatever image a caller holds into the API's `image` field.

Accepted: a file path (`str` or `PathLike`), raw file bytes, an http(s) URL (the server
fetches it), a `data:` URL, a PIL image, or a numpy array. Arrays have no colour order
of their own, so a 3- or 4-channel array needs `channels="rgb"` or `channels="bgr"`
(OpenCV's `cv2.imread` gives BGR); greyscale `(H, W)` arrays need nothing. PIL and
numpy are optional: they are imported only when such an image is given.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from locvlm_client._types import ImageInput

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["Channels", "ImageLike", "data_url", "image_bytes", "open_pil", "to_image_input"]

Channels = Literal["rgb", "bgr"]
ImageLike = Any  # str | os.PathLike[str] | bytes | PIL.Image.Image | numpy.ndarray


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _pil_module() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - exercised only without Pillow
        raise ImportError(
            "images given as arrays or drawn need Pillow: pip install 'locvlm-client[images]'"
        ) from exc
    return Image


def _is_pil(image: object) -> bool:
    return type(image).__module__.startswith("PIL.") and hasattr(image, "save")


def _is_array(image: object) -> bool:
    return type(image).__module__ == "numpy" and hasattr(image, "shape")


def _array_to_png(array: Any, channels: Channels | None) -> bytes:
    import numpy as np

    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        if channels not in ("rgb", "bgr"):
            raise ValueError(
                "a colour numpy image needs its channel order: channels='bgr' (OpenCV) "
                "or channels='rgb' (PIL, matplotlib, imageio)"
            )
        if channels == "bgr":
            arr = arr[:, :, [2, 1, 0, 3][: arr.shape[2]]]
    elif arr.ndim != 2:
        raise ValueError(f"a numpy image must be (H, W), (H, W, 3) or (H, W, 4); got {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(arr.max()) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return _pil_to_png(_pil_module().fromarray(np.ascontiguousarray(arr)))


def _pil_to_png(image: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def image_bytes(image: ImageLike, channels: Channels | None = None) -> bytes | None:
    """The image's file bytes, or None for a URL (the server fetches those itself)."""
    if isinstance(image, bytes | bytearray | memoryview):
        if not image:
            raise ValueError("the image bytes are empty")
        return bytes(image)
    if isinstance(image, str) and (_is_url(image) or image.startswith("data:")):
        return None
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"no image file at {path}")
        return path.read_bytes()
    if _is_pil(image):
        return _pil_to_png(image)
    if _is_array(image):
        return _array_to_png(image, channels)
    raise TypeError(
        f"cannot send a {type(image).__name__} as an image: give a path, bytes, a URL, "
        "a PIL image or a numpy array"
    )


def to_image_input(image: ImageLike, channels: Channels | None = None) -> ImageInput:
    """The JSON `image` field for `image`."""
    if isinstance(image, ImageInput):
        return image
    if isinstance(image, str) and _is_url(image):
        return ImageInput(url=image)
    if isinstance(image, str) and image.startswith("data:"):
        return ImageInput(data=image)
    data = image_bytes(image, channels)
    assert data is not None
    return ImageInput(data=base64.b64encode(data).decode("ascii"))


def data_url(image: ImageLike, channels: Channels | None = None) -> str:
    """`image` as a URL for an OpenAI `image_url` part (http(s) URLs pass through)."""
    if isinstance(image, str) and (_is_url(image) or image.startswith("data:")):
        return image
    data = image_bytes(image, channels)
    assert data is not None
    return f"data:{_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def _mime(data: bytes) -> str:
    signatures = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif",
                  b"BM": "image/bmp", b"RIFF": "image/webp"}  # fmt: skip
    for magic, mime in signatures.items():
        if data.startswith(magic):
            return mime
    return "application/octet-stream"


def open_pil(image: ImageLike, channels: Channels | None = None) -> PILImage.Image:
    """`image` as an RGB PIL image with EXIF orientation applied (for drawing).

    Raises:
        ValueError: for a URL (download it first: the SDK never fetches images itself).
    """
    pil = _pil_module()
    from PIL import ImageOps

    if _is_pil(image):
        return ImageOps.exif_transpose(image).convert("RGB")
    if isinstance(image, str) and image.startswith("data:"):
        data = base64.b64decode(image.partition(",")[2])
    else:
        got = image_bytes(image, channels)
        if got is None:
            raise ValueError("cannot draw on a URL: pass the image itself")
        data = got
    with pil.open(io.BytesIO(data)) as opened:
        return ImageOps.exif_transpose(opened).convert("RGB")
