"""The model's view of an image: squashed once, then passed through untouched."""

import io

import numpy as np
import pytest
from PIL import Image

from locvlm.model.build import image_stats
from locvlm.model.image import square
from locvlm.model.inputs import pixels


@pytest.mark.parametrize(
    ("size", "mode"),
    [
        ((200, 100), "RGB"),  # wide: squashed, not cropped
        ((64, 64), "RGBA"),  # at size, but not RGB
        ((10, 300), "L"),  # tall and grey
    ],
)
def test_square_is_rgb_at_the_side(size: tuple[int, int], mode: str) -> None:
    out = square(Image.new(mode, size, 128), 64)
    assert (out.mode, out.size) == ("RGB", (64, 64))


def test_an_image_already_squashed_is_not_copied() -> None:
    image = Image.new("RGB", (64, 64), (1, 2, 3))
    assert square(image, 64) is image
    assert square(square(Image.new("RGB", (99, 50)), 64), 64).size == (64, 64)


def test_training_pixels_are_the_squashed_image() -> None:
    image = Image.linear_gradient("L").resize((96, 40)).convert("RGB")
    mean, std = image_stats()
    ours = pixels([image], 64, mean, std)[0].permute(1, 2, 0).numpy()
    expected = (np.asarray(square(image, 64)) / 255.0 - mean) / std
    assert np.allclose(ours, expected, atol=1e-6)


def test_an_undecodable_file_fails_here_even_at_size() -> None:
    encoded = io.BytesIO()
    Image.effect_noise((64, 64), 64).convert("RGB").save(encoded, "PNG")
    data = encoded.getvalue()
    truncated = Image.open(io.BytesIO(data[: len(data) // 2]))  # lazy: only the header
    with pytest.raises(OSError, match="truncated"):
        square(truncated, 64)
