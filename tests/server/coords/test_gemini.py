"""Gemini: JSON `box_2d` as `[y_min, x_min, y_max, x_max]` normalized to 0-1000.

Sources: Google's Gemini bounding-box docs (Vertex AI "Bounding box detection": boxes
`[y_min, x_min, y_max, x_max]`, values normalized to 0-1000; the `scale_box` helper divides
by 1000) and the Gemini cookbook `Spatial_understanding.ipynb` (answers are a JSON array
with labels, usually fenced in ```json, which its `parse_json` strips). The two-object
answer below is a Gemini output recorded in a public bounding-box parser test.
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec
from locvlm_client import Box

Check = Callable[..., None]
CODEC = get_codec("gemini")
SIZE = (640, 480)
SIDE = "the inner vertical side of the rightmost lower protrusion of the green polygon"
FENCED = """```json
[
  {"box_2d": [634, 416, 820, 482], "label": "the inner vertical side of the rightmost lower protrusion of the green polygon"},
  {"box_2d": [820, 328, 872, 352], "label": "the purple number '1' located to its left"}
]
```"""  # noqa: E501


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            FENCED,
            [
                (SIDE, (266.24, 304.32, 308.48, 393.6)),
                ("the purple number '1' located to its left", (209.92, 393.6, 225.28, 418.56)),
            ],
        ),  # recorded answer: fenced list, y first
        ('[{"box_2d": [61, 22, 160, 95]}]', [(None, (14.08, 29.28, 60.8, 76.8))]),  # no label
        (
            '{"box_2d": [345, 102, 789, 512], "label": "cat"}',
            [("cat", (65.28, 165.6, 327.68, 378.72))],
        ),  # a single object, not a list
        (
            '[ { "box_2d" : [ 345 ,102, 789 , 512 ] , "label" : "cat" } ]',
            [("cat", (65.28, 165.6, 327.68, 378.72))],
        ),  # extra whitespace
        (
            '[{"box_2d": [345, 102, 789, 512], "label": "cat",},]',
            [("cat", (65.28, 165.6, 327.68, 378.72))],
        ),  # trailing commas
        (
            '[{"box_2d": [789, 512, 345, 102], "label": "cat"}]',
            [("cat", (65.28, 165.6, 327.68, 378.72))],
        ),  # swapped corners
        (
            '[{"box_2d": [-50, 500, 1200, 1000], "label": "sky"}]',
            [("sky", (320, 0, 640, 480))],
        ),  # out of range: clipped
        (
            '[{"box_2d": [345, 102, 789, 512], "label": "cat"}, {"box_2d": [10, 20, 30',
            [("cat", (65.28, 165.6, 327.68, 378.72))],
        ),  # truncated second object
        (
            '[{"box_2d": [345, 102, 789, 512], "label": "ca',
            [],
        ),  # truncated inside the only object's label
        (
            '[{"bbox_2d": [102, 345, 512, 789], "label": "cat"}]',
            [],
        ),  # Qwen's x-first key is not Gemini's
        ("I could not find any cat in the image.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([(10, 20, 300, 400)], '[{"box_2d": [42, 16, 833, 469]}]'),  # one box, y first
        (
            [(10, 20, 300, 400), (0, 0, 640, 480)],
            '[{"box_2d": [42, 16, 833, 469]}, {"box_2d": [0, 0, 1000, 1000]}]',
        ),  # several objects in one list
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)


def test_encode_rejects_a_box_outside_the_image() -> None:
    with pytest.raises(ValueError, match="outside"):
        CODEC.encode([Box(x1=-20, y1=0, x2=10, y2=10)], SIZE)
