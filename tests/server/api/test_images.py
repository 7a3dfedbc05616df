"""Image decoding: formats, limits checked before decoding, bombs, corrupt files, EXIF."""

import base64
import io
import struct
import threading
import zlib

import pytest
from PIL import Image, ImageDraw, ImageFile, WebPImagePlugin

from locvlm.api import images
from locvlm.api.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from locvlm.api.images import ImageLimits, decode_base64, decode_image, load_image
from locvlm.api.settings import Settings
from locvlm_client import ImageInput

RED = (200, 30, 30)
LIMITS = ImageLimits()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def bomb_png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of zeros: kilobytes on disk, width*height pixels decoded."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(encode, width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is rewritten to claim another size."""
    data = bytearray(encode("JPEG", (16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_claiming(width: int, height: int, mode: str = "RGB", **options: object) -> bytes:
    """A real small WebP whose first chunk is rewritten to claim another canvas size."""
    data = bytearray(_save(Image.new(mode, (16, 16)), "WEBP", **options))
    chunk = bytes(data[12:16])
    if chunk == b"VP8L":  # 14-bit width-1 and height-1, above them alpha and version bits
        bits = int.from_bytes(data[21:25], "little") & ~((1 << 28) - 1)
        data[21:25] = (bits | (width - 1) | (height - 1) << 14).to_bytes(4, "little")
    elif chunk == b"VP8X":  # 24-bit width-1 and height-1
        data[24:30] = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    else:  # "VP8 ": 14-bit width and height
        data[26:30] = struct.pack("<HH", width, height)
    return bytes(data)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every pixel decode (`load()`), to show bombs are refused before one."""
    calls: list[str] = []
    for cls in (Image.Image, ImageFile.ImageFile):
        original = cls.load

        def spy(self, _original=original):  # type: ignore[no-untyped-def]
            calls.append(type(self).__name__)
            return _original(self)

        monkeypatch.setattr(cls, "load", spy)
    webp_decoder = WebPImagePlugin._webp.WebPAnimDecoder  # allocates the canvas when made

    def webp_spy(data):  # type: ignore[no-untyped-def]
        calls.append("WebPAnimDecoder")
        return webp_decoder(data)

    monkeypatch.setattr(WebPImagePlugin._webp, "WebPAnimDecoder", webp_spy)
    return calls


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        ("JPEG", "RGB"),  # jpeg
        ("JPEG", "L"),  # greyscale jpeg
        ("JPEG", "CMYK"),  # print jpeg
        ("PNG", "RGB"),  # png
        ("PNG", "P"),  # palette png
        ("PNG", "I;16"),  # 16-bit png
        ("WEBP", "RGB"),  # webp
        ("GIF", "P"),  # gif
        ("BMP", "RGB"),  # bmp
    ],
)
def test_accepted_formats_come_back_rgb(encode, fmt: str, mode: str) -> None:
    color = {"L": 90, "I;16": 9000, "CMYK": (0, 200, 200, 0)}.get(mode, RED)
    source = Image.new("RGB", (10, 7), RED).convert(mode) if mode == "P" else None
    data = encode(fmt, (10, 7), color, mode) if source is None else _save(source, fmt)
    image = decode_image(data, LIMITS)
    assert (image.mode, image.size) == ("RGB", (10, 7))


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)  # type: ignore[arg-type]
    return buf.getvalue()


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (6, 4), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert decode_image(data, LIMITS).getpixel((2, 2)) == (255, 0, 0)


def test_transparency_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    decoded = decode_image(_save(image, "PNG"), LIMITS)
    assert decoded.getpixel((0, 0)) == (255, 0, 0)
    assert decoded.getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize(
    "data",
    [
        _save(Image.new("RGB", (4, 4)), "TIFF"),  # tiff
        _save(Image.new("RGB", (16, 16)), "ICO"),  # ico
        _save(Image.new("RGB", (4, 4)), "PPM"),  # ppm
        _save(Image.new("RGB", (4, 4)), "PDF"),  # pdf
        b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>',  # svg
        b"hello, this is not an image",  # text
        b"",  # empty
        b"\0" * 100,  # zeros
    ],
)
def test_other_formats_and_non_images_are_415(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as info:
        decode_image(data, LIMITS)
    assert info.value.status_code == 415
    assert "JPEG, PNG" in info.value.message


def test_format_list_comes_from_the_limits(encode) -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        decode_image(encode("JPEG"), ImageLimits(formats=("PNG",)))


@pytest.mark.parametrize(
    ("fmt", "keep"),
    [
        ("PNG", 0.5),  # png cut in half
        ("PNG", 0.9),  # png without its end
        ("JPEG", 0.5),  # jpeg cut in half
        ("WEBP", 0.5),  # webp cut in half
        ("GIF", 0.5),  # gif cut in half
        ("BMP", 0.5),  # bmp cut in half
        ("PNG", 12),  # png signature and a few bytes
        ("JPEG", 3),  # jpeg start-of-image marker alone
    ],
)
def test_truncated_files_are_400(encode, fmt: str, keep: float) -> None:

    image = Image.new("RGB", (64, 48))
    ImageDraw.Draw(image).ellipse((4, 4, 60, 40), fill=RED, outline=(0, 90, 200))
    data = _save(image, fmt)
    data = data[: int(len(data) * keep) if keep < 1 else int(keep)]
    with pytest.raises(InvalidRequestError) as info:
        decode_image(data, LIMITS, param="image.data")
    assert info.value.status_code == 400
    assert info.value.param == "image.data"
    assert "truncated" in info.value.message


def test_corrupt_png_data_is_400(encode) -> None:
    data = bytearray(encode("PNG", (32, 32)))
    data[-30:-14] = b"\xff" * 16  # the compressed pixels, with their checksum now wrong
    with pytest.raises(InvalidRequestError):
        decode_image(bytes(data), LIMITS)


@pytest.mark.parametrize(
    "make",
    [
        lambda encode: bomb_png(20_000, 20_000),  # 400 MP png, 50 kB: over Pillow's own limit too
        lambda encode: bomb_png(8_000, 6_000),  # 48 MP png: only our 40 MP limit stops it
        lambda encode: jpeg_claiming(encode, 30_000, 30_000),  # jpeg header claiming 900 MP
        lambda encode: jpeg_claiming(encode, 7_000, 7_000),  # jpeg header claiming 49 MP
        lambda encode: webp_claiming(10_000, 10_000, lossless=True),  # lossless webp, 100 MP
        lambda encode: webp_claiming(16_383, 16_383),  # lossy webp, 268 MP
        lambda encode: webp_claiming(7_000, 7_000, "RGBA"),  # extended webp, 49 MP
    ],
)
def test_decompression_bombs_are_413_before_any_pixel_is_decoded(encode, loads, make) -> None:
    data = make(encode)
    assert len(data) < 100_000
    loads.clear()  # building the file decoded images; decoding it must not
    with pytest.raises(PayloadTooLargeError) as info:
        decode_image(data, LIMITS)
    assert info.value.status_code == 413
    assert "MP" in info.value.message
    assert loads == []


def test_pixel_limit_is_configurable(encode, loads) -> None:
    data = encode("PNG", (100, 50))
    loads.clear()
    with pytest.raises(PayloadTooLargeError, match="100x50"):
        decode_image(data, ImageLimits(max_pixels=4999))
    assert loads == []
    assert decode_image(data, ImageLimits(max_pixels=5000)).size == (100, 50)
    assert loads  # the spy does see a real decode


def test_byte_limit(encode) -> None:
    data = encode("BMP", (64, 64))
    with pytest.raises(PayloadTooLargeError):
        decode_image(data, ImageLimits(max_bytes=len(data) - 1))
    with pytest.raises(PayloadTooLargeError):
        decode_base64(b64(data), len(data) - 1)
    with pytest.raises(PayloadTooLargeError):  # refused on length, before decoding
        decode_base64("A" * 10_000, 1000)


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [
        (6, (19, 0)),  # rotate 90° clockwise: the left (red) half becomes the top
        (8, (0, 39)),  # rotate 90° anticlockwise: the left half becomes the bottom
        (3, (39, 19)),  # rotate 180°
        (1, (0, 0)),  # upright already
    ],
)
def test_exif_orientation_is_applied(orientation: int, corner: tuple[int, int]) -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste(RED, (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode_image(_save(image, "JPEG", exif=exif, quality=95), LIMITS)
    assert decoded.size == ((20, 40) if orientation in (6, 8) else (40, 20))
    red, _green, blue = decoded.getpixel(corner)  # type: ignore[misc]
    assert red > 150 > blue


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: s,  # plain base64
        lambda s: f"data:image/png;base64,{s}",  # data URL
        lambda s: f"DATA:IMAGE/PNG;BASE64,{s}",  # data URL, upper case
        lambda s: f"data:;base64,{s}",  # data URL without a media type
        lambda s: (
            f"data:image/jpeg;name=x.png;base64,{s}"
        ),  # data URL with a parameter and a wrong type
        lambda s: "\n".join(s[i : i + 76] for i in range(0, len(s), 76)),  # MIME line breaks
        lambda s: s.rstrip("="),  # padding left off
        lambda s: s.replace("+", "-").replace("/", "_"),  # URL-safe alphabet
    ],
)
def test_base64_forms(encode, wrap) -> None:
    data = encode("PNG", (31, 17), (250, 250, 251))  # 31x17 makes '+', '/' and padding likely
    assert decode_base64(wrap(b64(data)), LIMITS.max_bytes) == data


@pytest.mark.parametrize(
    "text",
    [
        "this is not base64!",  # punctuation
        "iVBORw0KGgo=AAAA",  # padding in the middle
        "A",  # one character (no byte count fits)
        "",  # empty
        "   ",  # blanks
        "data:image/png,iVBORw0KGgo=",  # data URL that is not base64
        "data:image/png;base64",  # data URL without a comma
        "ïVBORw0KGgo=",  # non-ASCII
    ],
)
def test_bad_base64_is_400_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        decode_base64(text, LIMITS.max_bytes, param="image.data")
    assert (info.value.status_code, info.value.param) == (400, "image.data")


@pytest.mark.anyio
async def test_load_image_from_data(encode) -> None:
    image = await load_image(ImageInput(data=b64(encode("WEBP", (9, 5)))), Settings())
    assert (image.mode, image.size) == ("RGB", (9, 5))
    with pytest.raises(InvalidRequestError) as info:
        await load_image(ImageInput(data="%%%"), Settings(), param="messages[0].content[1]")
    assert info.value.param == "messages[0].content[1].data"
    with pytest.raises(PayloadTooLargeError):
        await load_image(
            ImageInput(data=b64(encode("PNG", (50, 50)))), Settings(max_image_pixels=100)
        )


@pytest.mark.anyio
async def test_load_image_from_url(image_server, loopback_policy) -> None:
    url = image_server.url("/image.png?load")
    image = await load_image(ImageInput(url=url), Settings(), policy=loopback_policy)
    assert image.size == (8, 6)
    with pytest.raises(UnsupportedMediaTypeError) as info:  # 200 "hello": not an image
        await load_image(
            ImageInput(url=image_server.url("/hello")), Settings(), policy=loopback_policy
        )
    assert info.value.param == "image.url"
    with pytest.raises(InvalidRequestError, match="non-public"):  # the settings' policy
        await load_image(ImageInput(url=url), Settings())


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("make", "on_loop"),
    [
        (lambda encode: encode("PNG", (128, 96)), True),  # small: quicker than a thread hop
        (lambda encode: encode("PNG", (256, 256)), True),
        (lambda encode: encode("PNG", (257, 256)), False),  # more pixels: off the loop
        (lambda encode: encode("BMP", (300, 300)), False),  # more bytes, too
        (lambda encode: bomb_png(4_000, 4_000), False),  # a small file of many pixels
    ],
)
async def test_only_small_images_decode_on_the_event_loop(
    encode, make, on_loop: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make(encode)
    loop_thread = threading.current_thread()
    threads: list[threading.Thread] = []
    original = images._to_rgb

    def spy(image: Image.Image) -> Image.Image:
        threads.append(threading.current_thread())
        return original(image)

    monkeypatch.setattr(images, "_to_rgb", spy)
    for load in (
        lambda: images.decode_image_async(data, LIMITS),
        lambda: load_image(ImageInput(data=b64(data)), Settings()),
    ):
        threads.clear()
        image = await load()
        assert image.mode == "RGB"
        assert len(threads) == 1
        assert (threads[0] is loop_thread) == on_loop


@pytest.mark.anyio
async def test_the_async_decode_keeps_the_real_limits(encode) -> None:
    data = encode("PNG", (100, 50))
    with pytest.raises(PayloadTooLargeError, match="100x50"):
        await images.decode_image_async(data, ImageLimits(max_pixels=4999))
    with pytest.raises(UnsupportedMediaTypeError):
        await images.decode_image_async(b"hello", LIMITS)
    big = encode("PNG", (400, 300))
    with pytest.raises(PayloadTooLargeError, match="400x300"):  # decided in the thread
        await images.decode_image_async(big, ImageLimits(max_pixels=100_000))
