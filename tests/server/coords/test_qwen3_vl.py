"""Qwen3-VL: JSON `bbox_2d` relative to 0-1000, or Qwen2-VL's `(x1,y1),(x2,y2)` tuples.

Sources: the Qwen3-VL cookbook `spatial_understanding.ipynb` (JSON answers in a ```json
fence; its plotting code divides by 1000 and multiplies by the original width/height) and
the Qwen2-VL grounding tokens, which Qwen3-VL still writes when not asked for JSON.
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec

Check = Callable[..., None]
CODEC = get_codec("qwen3_vl")
SIZE = (640, 480)
CAT = (65.28, 165.6, 327.68, 378.72)  # [102, 345, 512, 789] of 1000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '```json\n[\n  {"bbox_2d": [102, 345, 512, 789], "label": "cat"}\n]\n```',
            [("cat", CAT)],
        ),  # cookbook form
        (
            '[{"bbox_2d": [102, 345, 512, 789], "label": "cat"}, '
            '{"bbox_2d": [0, 0, 1000, 1000], "label": "room"}]',
            [("cat", CAT), ("room", (0, 0, 640, 480))],
        ),  # several objects
        ("{'bbox_2d': [102, 345, 512, 789], 'label': 'cat'}", [("cat", CAT)]),  # Python-dict quotes
        (
            '{"objects": [{"bbox_2d": [102, 345, 512, 789], "label": "cat"}]}',
            [("cat", CAT)],
        ),  # boxes nested under another key
        (
            '[{"bbox_2d": [102, 345, 512, 789], "label": "cat"]',
            [("cat", CAT)],
        ),  # missing closing brace before the list ends
        (
            "<|object_ref_start|>cat<|object_ref_end|><|box_start|>(102,345),(512,789)<|box_end|>",
            [("cat", CAT)],
        ),  # Qwen2-VL tuple form
        ('[ { "bbox_2d" : [102,345 ,512, 789] } ]', [(None, CAT)]),  # extra whitespace
        ('[{"bbox_2d": [512, 789, 102, 345]}]', [(None, CAT)]),  # swapped corners
        ('[{"bbox_2d": [500, -20, 1500, 500]}]', [(None, (320, 0, 640, 240))]),  # clipped
        (
            '[{"bbox_2d": [102, 345, 512, 789], "label": "cat"}, {"bbox_2d": [1',
            [("cat", CAT)],
        ),  # truncated second object
        ('```json\n[\n  {"bbox_2d": [102, 345', []),  # truncated first object
        ("There is a cat on the sofa.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([(10, 20, 300, 400)], '[{"bbox_2d": [16, 42, 469, 833]}]'),  # one box
        (
            [(10, 20, 300, 400), (0, 0, 640, 480)],
            '[{"bbox_2d": [16, 42, 469, 833]}, {"bbox_2d": [0, 0, 1000, 1000]}]',
        ),  # several objects in one list
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)
