"""Florence-2: `label<loc_x1><loc_y1><loc_x2><loc_y2>`, 1000 bins, decoded at bin centres.

Sources: Florence-2's post-processor (`BoxQuantizer`, mode "floor": quantize
floor(v * bins) clipped to bins - 1, dequantize (k + 0.5) * size / bins); the `<OD>`
generation and expected boxes of transformers.js' Florence-2 processor test (640 x 480
car image: car [34.24, 160.08, 597.44, 371.76] ...); the `door handle` generation of
transformers' Florence-2 integration test.
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec

Check = Callable[..., None]
CODEC = get_codec("florence2")
SIZE = (640, 480)
CAR = (34.24, 160.08, 597.44, 371.76)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "</s><s><s><s>car<loc_53><loc_333><loc_933><loc_774>door<loc_712><loc_203><loc_906>"
            "<loc_545>wheel<loc_704><loc_576><loc_866><loc_772><loc_149><loc_584><loc_310>"
            "<loc_773></s>",
            [
                ("car", CAR),
                ("door", (456.0, 97.68, 580.16, 261.84)),
                ("wheel", (450.88, 276.72, 554.56, 370.8)),
                ("wheel", (95.68, 280.56, 198.72, 371.28)),
            ],
        ),  # transformers.js <OD> test: two wheels share a label
        (
            "</s><s>car<loc_53><loc_333><loc_933><loc_774>door handle<loc_425><loc_503>"
            "<loc_474><loc_515></s><pad><pad>",
            [("car", CAR), ("door handle", (272.32, 241.68, 303.68, 247.44))],
        ),  # transformers integration test: a two-word label
        ("<loc_53><loc_333><loc_933><loc_774>", [(None, CAR)]),  # no label
        ("car <loc_53> <loc_333> <loc_933> <loc_774>", [("car", CAR)]),  # extra whitespace
        ("car<loc_933><loc_774><loc_53><loc_333>", [("car", CAR)]),  # swapped corners
        (
            "sky<loc_500><loc_500><loc_1200><loc_1500>",
            [("sky", (320.32, 240.24, 640, 480))],
        ),  # out of range: clipped
        (
            "car<loc_53><loc_333><loc_933><loc_774>door<loc_712><loc_203>",
            [("car", CAR)],
        ),  # truncated second box
        ("</s><s>A green car parked in front of a yellow building.</s>", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([(10, 20, 300, 400)], "<loc_15><loc_41><loc_468><loc_833>"),  # one box: floor
        ([(0, 0, 640, 480)], "<loc_0><loc_0><loc_999><loc_999>"),  # far edge clipped to 999
        (
            [CAR, (0, 0, 640, 480)],
            "<loc_53><loc_333><loc_933><loc_774><loc_0><loc_0><loc_999><loc_999>",
        ),  # several boxes concatenated; the test's car encodes back to its tokens
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)
