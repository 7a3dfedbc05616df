"""Turn a request's image (base64, data URL or http(s) URL) into an RGB `PIL.Image`.

    image = await load_image(request.image, settings, fetch_client)

The image comes back in the original file's pixel space with its EXIF orientation
applied, which is the space boxes are answered in. Hostile input is expected:
- sizes are checked on the encoded text, the decoded bytes (413) and the pixel count
  read from the header, before any pixel is decoded (413), so decompression bombs never
  allocate (WebP's header is read here: Pillow allocates its canvas while opening);
  Pillow's own bomb check (global `Image.MAX_IMAGE_PIXELS`, left as it is) is a second
  net, also answered 413;
- only the allowed formats' decoders ever see the bytes (`Image.open(formats=...)`);
  the declared media type is ignored, the content decides;
- not an image, or not an allowed format: 415; an allowed format that fails to decode
  (truncated, corrupt): 400; messages never carry the decoder's own text.
GIF and animated WebP/PNG: the first frame. Transparency is composited onto white.

Small images (up to 256x256 pixels, 256 KiB) are decoded on the event loop: that takes
well under a millisecond, less than handing the work to a thread and back (the two
threads then also trade the GIL). Larger ones decode in a worker thread, so the server
keeps answering while they do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx
from PIL import Image, ImageOps, UnidentifiedImageError

from locvlm.api.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from locvlm.api.fetch import FetchPolicy, fetch_url
from locvlm_client import ImageInput

if TYPE_CHECKING:  # settings.py takes its defaults from here
    from locvlm.api.settings import Settings

__all__ = [
    "ImageLimits",
    "decode_base64",
    "decode_image",
    "decode_image_async",
    "image_pixels",
    "load_image",
    "read_image",
]

log = logging.getLogger(__name__)

# Leading bytes of the formats we serve, to tell "corrupt PNG" (400) from "not one" (415).
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "GIF": (b"GIF87a", b"GIF89a"),
    "BMP": (b"BM",),
}
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


@dataclass(frozen=True)
class ImageLimits:
    """What an image may cost before it is decoded."""

    max_bytes: int = 10 * 1024 * 1024  # the file, after base64 decoding
    max_pixels: int = 40_000_000  # width*height; 40 MP is a large phone photo, 120 MB as RGB
    formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # Pillow format names

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageLimits:
        """The limits the server's settings describe."""
        return cls(
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            formats=tuple(f.upper() for f in settings.allowed_image_formats),
        )


async def load_image(
    image: ImageInput,
    settings: Settings,
    client: httpx.AsyncClient | None = None,
    *,
    param: str = "image",
    policy: FetchPolicy | None = None,
) -> Image.Image:
    """The request's image as RGB (large ones decoded off the event loop).

    Args:
        image: Base64/data-URL `data`, or a `url` fetched SSRF-safely (`locvlm.api.fetch`).
        settings: Limits and fetch policy come from here.
        client: Shared client for URL fetches (see `new_fetch_client`); None: one per call.
        param: Where the image sits in the request; errors name `{param}.data|url`.
        policy: Overrides the fetch policy from `settings` (tests, special routes).

    Raises:
        InvalidRequestError: 400, bad base64, corrupt image, blocked or failing URL.
        PayloadTooLargeError: 413, bytes or pixels over the limits.
        UnsupportedMediaTypeError: 415, not an image in an allowed format.
        GatewayTimeoutError: 504, the URL took too long.
    """
    raw, where = await read_image(image, settings, client, param=param, policy=policy)
    return await decode_image_async(raw, ImageLimits.from_settings(settings), param=where)


async def read_image(
    image: ImageInput,
    settings: Settings,
    client: httpx.AsyncClient | None = None,
    *,
    param: str = "image",
    policy: FetchPolicy | None = None,
    max_bytes: int | None = None,
) -> tuple[bytes, str]:
    """The request image's file bytes, and where they came from (`{param}.data|url`).

    `max_bytes` replaces the settings' image limit on the decoded base64 (video files).

    Raises:
        The errors of `load_image` but those of decoding.
    """
    limits = ImageLimits.from_settings(settings)
    if max_bytes is not None:
        limits = replace(limits, max_bytes=max_bytes)
    if image.data is not None:
        where = f"{param}.data"
        if len(image.data) <= _INLINE_TEXT:
            return decode_base64(image.data, limits.max_bytes, param=where), where
        raw = await asyncio.to_thread(decode_base64, image.data, limits.max_bytes, param=where)
        return raw, where
    if image.url is None:
        raise InvalidRequestError("give image.data or image.url", param=param)
    fetch_policy = policy or FetchPolicy.from_settings(settings)
    where = f"{param}.url"
    return await fetch_url(image.url, fetch_policy, client, param=where), where


_INLINE_BYTES = 256 * 1024  # files up to this size, ...
_INLINE_PIXELS = 256 * 256  # ... with up to this many pixels, decode on the event loop
_INLINE_TEXT = 4 * _INLINE_BYTES // 3 + 1024  # their base64 text (with a data-URL head)


async def decode_image_async(
    data: bytes, limits: ImageLimits, *, param: str | None = "image"
) -> Image.Image:
    """`decode_image` on the event loop for small images, in a worker thread otherwise.

    Raises:
        The errors of `decode_image`.
    """
    if len(data) <= _INLINE_BYTES:
        small = replace(limits, max_pixels=min(limits.max_pixels, _INLINE_PIXELS))
        try:
            return decode_image(data, small, param=param)  # refused before decoding if larger
        except PayloadTooLargeError:
            pass  # more pixels than is quick (or over the real limit: the thread says so)
    return await asyncio.to_thread(decode_image, data, limits, param=param)


def decode_base64(text: str, max_bytes: int, *, param: str | None = "image.data") -> bytes:
    """The bytes of base64 text or a `data:...;base64,` URL (whitespace, URL-safe ok).

    Raises:
        InvalidRequestError: 400, not base64, not a base64 data URL, or empty.
        PayloadTooLargeError: 413, more than `max_bytes` once decoded.
    """
    cap = 4 * math.ceil(max_bytes / 3)  # encoded length of max_bytes
    too_large = PayloadTooLargeError(f"the image is over {max_bytes} bytes", param=param)
    if len(text) > 2 * cap + 1024:  # before copying: room for a data-URL head and newlines
        raise too_large
    if text[:5].lower() == "data:":
        head, comma, text = text.partition(",")
        if not comma or not head.lower().endswith(";base64"):
            raise InvalidRequestError(
                "data URLs must be base64: data:image/png;base64,...", param=param
            )
    payload = "".join(text.split()).translate(_URLSAFE_TO_STANDARD)
    if len(payload) > cap:
        raise too_large
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError("the image is not valid base64", param=param) from None
    if not raw:
        raise InvalidRequestError("the image is empty", param=param)
    if len(raw) > max_bytes:
        raise too_large
    return raw


def decode_image(data: bytes, limits: ImageLimits, *, param: str | None = "image") -> Image.Image:
    """An RGB image from file bytes, EXIF orientation applied; see the module docstring.

    Raises:
        PayloadTooLargeError: 413, over `limits.max_bytes` or `limits.max_pixels`.
        UnsupportedMediaTypeError: 415, not an image in one of `limits.formats`.
        InvalidRequestError: 400, an allowed format that does not decode.
    """
    with _open(data, limits, param) as opened:
        try:
            return _to_rgb(opened)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(None, limits, param) from None
        except Exception:
            log.debug("image failed to decode", exc_info=True)
            raise _corrupt(opened.format, param) from None


def image_pixels(data: bytes, limits: ImageLimits, *, param: str | None = "image") -> int:
    """The pixel count of an image file, from its header (nothing is decoded).

    Raises:
        The errors of `decode_image` that come before decoding.
    """
    with _open(data, limits, param) as opened:
        return opened.width * opened.height


def _open(data: bytes, limits: ImageLimits, param: str | None) -> Image.Image:
    """The image with only its header read, checked against `limits`."""
    if len(data) > limits.max_bytes:
        raise PayloadTooLargeError(f"the image is over {limits.max_bytes} bytes", param=param)
    webp = _webp_canvas(data)
    if webp is not None and webp[0] * webp[1] > limits.max_pixels:
        raise _too_many_pixels(webp, limits, param)
    try:
        opened = Image.open(io.BytesIO(data), formats=limits.formats)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(None, limits, param) from None
    except UnidentifiedImageError:
        raise _unidentified(data, limits, param) from None
    except Exception:  # any parser error on hostile bytes is the sender's fault
        log.debug("image header failed to parse", exc_info=True)
        raise _corrupt(_sniff(data), param) from None
    width, height = opened.size
    if width * height > limits.max_pixels:
        opened.close()
        raise _too_many_pixels((width, height), limits, param)
    return opened


def _to_rgb(image: Image.Image) -> Image.Image:
    """Decode (first frame), apply EXIF orientation, flatten transparency onto white.

    Peak memory is two frames (Pillow keeps RGB and RGBA at 4 bytes a pixel): the
    decoded one and, only when needed, its rotated or flattened copy.
    """
    if image.getexif().get(_ORIENTATION, 1) != 1:
        upright = ImageOps.exif_transpose(image)  # decodes into a rotated copy
    else:
        image.load()
        upright = image
    if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
        rgba = upright if upright.mode == "RGBA" else upright.convert("RGBA")
        del upright
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba)  # an RGBA mask pastes through its alpha band, no copy
        return flat
    return upright if upright.mode == "RGB" else upright.convert("RGB")  # no second copy


_ORIENTATION = 0x0112  # the EXIF tag


def _webp_canvas(data: bytes) -> tuple[int, int] | None:
    """A WebP's canvas size, from its first chunk header.

    Needed before `Image.open`: Pillow's WebP plugin creates libwebp's decoder, which
    allocates the whole canvas, while opening (guarded only by Pillow's global limit).
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1, height-1
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit width-1, height-1
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        width, height = int.from_bytes(data[26:28], "little"), int.from_bytes(data[28:30], "little")
        return width & 0x3FFF, height & 0x3FFF
    return None


def _sniff(data: bytes) -> str | None:
    """The format the leading bytes claim, of those we know the magic of."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for fmt, magic in _MAGIC.items() if data.startswith(magic)), None)


def _unidentified(data: bytes, limits: ImageLimits, param: str | None) -> Exception:
    claimed = _sniff(data)
    if claimed in limits.formats:
        return _corrupt(claimed, param)
    return UnsupportedMediaTypeError(
        f"not an image in an accepted format ({', '.join(limits.formats)})", param=param
    )


def _corrupt(fmt: str | None, param: str | None) -> InvalidRequestError:
    return InvalidRequestError(f"the {fmt or 'image'} file is corrupt or truncated", param=param)


def _too_many_pixels(
    size: tuple[int, int] | None, limits: ImageLimits, param: str | None
) -> PayloadTooLargeError:
    limit = f"the limit is {limits.max_pixels / 1e6:g} MP"
    if size is None:
        return PayloadTooLargeError(f"the image has too many pixels; {limit}", param=param)
    width, height = size
    return PayloadTooLargeError(
        f"the image is {width}x{height} ({width * height / 1e6:.1f} MP); {limit}", param=param
    )
