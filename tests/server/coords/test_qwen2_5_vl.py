"""Qwen2.5-VL: JSON `bbox_2d` in absolute pixels of the model's resized input.

Sources: the Qwen2.5-VL cookbook `spatial_understanding.ipynb` (answers
```json [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}] ```); Alibaba Model Studio's
Qwen2.5-VL grounding notes (box coordinates are absolute pixels of the resized image,
map them back with the processor's resize); transformers' `smart_resize` (factor 28,
min_pixels 56*56, max_pixels 28*28*1280).
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec
from locvlm.coords.qwen2_5_vl import smart_resize

Check = Callable[..., None]
CODEC = get_codec("qwen2_5_vl")
SIZE = (1280, 960)  # seen by the model as 1148 x 840
CAT = (320, 240, 960, 720)  # [287, 210, 861, 630] in the 1148 x 840 input


@pytest.mark.parametrize(
    ("height", "width", "resized"),
    [
        (960, 1280, (840, 1148)),  # too many pixels: scaled down, floored to 28
        (50, 100, (56, 112)),  # rounded to multiples of 28
        (10, 10, (56, 56)),  # too few pixels: scaled up (transformers would refuse)
    ],
)
def test_smart_resize(height: int, width: int, resized: tuple[int, int]) -> None:
    assert smart_resize(height, width) == resized


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '```json\n[\n\t{"bbox_2d": [287, 210, 861, 630], "label": "cat"}\n]\n```',
            [("cat", CAT)],
        ),  # cookbook form, resized space mapped to 1280 x 960
        (
            '[{"bbox_2d": [287, 210, 861, 630], "label": "cat"}, '
            '{"bbox_2d": [0, 0, 574, 420], "label": "dog"}]',
            [("cat", CAT), ("dog", (0, 0, 640, 480))],
        ),  # several objects
        ('{"bbox_2d": [287, 210, 861, 630]}', [(None, CAT)]),  # single object, no label
        (
            '[ {"bbox_2d":[ 287 ,210,861 , 630 ] ,"label" : "cat" } ]',
            [("cat", CAT)],
        ),  # extra whitespace
        ('[{"bbox_2d": [287 210 861 630], "label": "cat"}]', [("cat", CAT)]),  # missing commas
        (
            '[{"bbox_2d": [287, 210, 861, 630], "label": "cat",},]',
            [("cat", CAT)],
        ),  # trailing commas
        ('[{"bbox_2d": [861, 630, 287, 210], "label": "cat"}]', [("cat", CAT)]),  # swapped corners
        (
            '[{"bbox_2d": [-10, 420, 1200, 900], "label": "sofa"}]',
            [("sofa", (0, 480, 1280, 960))],
        ),  # out of range: clipped
        (
            '[{"bbox_2d": [287, 210, 861, 630], "label": "cat"}, {"bbox_2d": [0, 0, 5',
            [("cat", CAT)],
        ),  # truncated second object
        (
            '[{"bbox_2d": [287, 210, 861, 630], "label": "a \\"fat\\" cat"}]',
            [('a "fat" cat', CAT)],
        ),  # escaped quotes in the label
        ("The image shows a cat sitting on a sofa.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


def test_decode_with_an_explicit_input_size() -> None:
    codec = get_codec("qwen2_5_vl", input_size=(1000, 1000))
    (box,) = codec.decode('[{"bbox_2d": [250, 250, 750, 750]}]', SIZE)
    assert box.to_xyxy() == pytest.approx(CAT)


@pytest.mark.parametrize(
    ("params", "boxes", "text"),
    [
        ({}, [CAT], '[{"bbox_2d": [287, 210, 861, 630]}]'),  # pixels of the resized input
        (
            {},
            [CAT, (0, 0, 1280, 960)],
            '[{"bbox_2d": [287, 210, 861, 630]}, {"bbox_2d": [0, 0, 1148, 840]}]',
        ),  # several objects in one list
        ({"input_size": (1000, 1000)}, [CAT], '[{"bbox_2d": [250, 250, 750, 750]}]'),  # given size
    ],
)
def test_encode(
    params: dict[str, object], boxes: list[tuple[float, ...]], text: str, check_encode: Check
) -> None:
    check_encode(get_codec("qwen2_5_vl", **params), boxes, SIZE, text)


@pytest.mark.parametrize(
    ("params", "tolerance"),
    [
        ({}, 0.5 / 28),  # any image: the resized side is at least one factor
        ({"input_size": (1148, 840)}, 0.5 / 840),  # known input: half a pixel of its short side
    ],
)
def test_tolerance(params: dict[str, object], tolerance: float) -> None:
    assert get_codec("qwen2_5_vl", **params).tolerance == pytest.approx(tolerance)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="qwen2_5_vl"):
        get_codec("qwen2_5_vl", min_pixels=10, max_pixels=5)
