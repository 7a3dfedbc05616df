import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from locvlm_client import ImageInput, user_message
from locvlm_client._images import data_url, open_pil, to_image_input


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _decoded(field: ImageInput) -> Image.Image:
    assert field.data is not None
    assert field.url is None
    return Image.open(io.BytesIO(base64.b64decode(field.data))).convert("RGB")


RED = (220, 40, 40)


@pytest.fixture
def red_image() -> Image.Image:
    image = Image.new("RGB", (6, 4), (250, 250, 250))
    image.putpixel((1, 2), RED)
    return image


def test_paths_and_bytes_are_sent_as_they_are(tmp_path: Path, red_image: Image.Image) -> None:
    data = _png(red_image)
    file = tmp_path / "scene.png"
    file.write_bytes(data)
    for given in (file, str(file), data, bytearray(data)):
        field = to_image_input(given)
        assert field.data is not None
        assert base64.b64decode(field.data) == data


def test_urls_are_left_to_the_server() -> None:
    assert to_image_input("https://example.com/a.png") == ImageInput(
        url="https://example.com/a.png"
    )
    data = "data:image/png;base64,AAAA"
    assert to_image_input(data) == ImageInput(data=data)


def test_pil_images_keep_their_pixels(red_image: Image.Image) -> None:
    assert _decoded(to_image_input(red_image)).getpixel((1, 2)) == RED


def test_numpy_colour_order_must_be_stated(red_image: Image.Image) -> None:
    rgb = np.asarray(red_image)
    bgr = rgb[:, :, ::-1].copy()  # what cv2.imread returns
    assert _decoded(to_image_input(rgb, "rgb")).getpixel((1, 2)) == RED
    assert _decoded(to_image_input(bgr, "bgr")).getpixel((1, 2)) == RED
    assert _decoded(to_image_input(bgr, "rgb")).getpixel((1, 2)) == RED[::-1]
    with pytest.raises(ValueError, match="channels='bgr'"):
        to_image_input(rgb)


def test_numpy_grey_alpha_and_float_arrays() -> None:
    grey = np.full((4, 5), 200, dtype=np.uint8)
    assert _decoded(to_image_input(grey)).getpixel((0, 0)) == (200, 200, 200)
    bgra = np.zeros((4, 5, 4), dtype=np.uint8)
    bgra[..., 0], bgra[..., 3] = 255, 255  # blue in BGRA, opaque
    assert _decoded(to_image_input(bgra, "bgr")).getpixel((0, 0)) == (0, 0, 255)
    ones = np.ones((4, 5, 3), dtype=np.float32)
    assert _decoded(to_image_input(ones, "rgb")).getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        to_image_input(np.zeros((2, 2, 2, 2)), "rgb")


@pytest.mark.parametrize(
    ("given", "error", "match"),
    [
        ("/no/such/file.png", FileNotFoundError, "no image file"),
        (b"", ValueError, "empty"),
        (12, TypeError, "cannot send a int"),
    ],
)
def test_bad_images_fail_before_sending(given: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        to_image_input(given)


def test_chat_messages_carry_data_urls(red_image: Image.Image) -> None:
    message = user_message("Where is the red circle?", red_image)
    url = message["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert user_message("hi") == {"role": "user", "content": "hi"}
    assert data_url("http://x.test/a.jpg") == "http://x.test/a.jpg"


def test_open_pil_applies_exif_orientation(tmp_path: Path) -> None:
    image = Image.new("RGB", (8, 4), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    file = tmp_path / "rotated.jpg"
    image.save(file, format="JPEG", exif=exif)
    assert open_pil(file).size == (4, 8)
    with pytest.raises(ValueError, match="URL"):
        open_pil("https://example.com/a.png")
