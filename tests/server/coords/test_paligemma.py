"""PaliGemma: `<locYYYY><locXXXX><locYYYY><locXXXX> label`, y first, 1024 steps, ` ; ` between.

Source: Google's `paligemma_parse.py` (big_vision PaliGemma demo): its EXAMPLE_STRING
(detections with `<segNNN>` mask tokens, labels after the tokens, ` ; ` between
objects) and its decoding `int(loc) / 1024 * size`, y1 x1 y2 x2.
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec

Check = Callable[..., None]
CODEC = get_codec("paligemma")
SIZE = (640, 480)
CAT = (80, 120, 560, 360)  # <loc0256><loc0128><loc0768><loc0896>
SEG = "".join(f"<seg{k:03d}>" for k in (114, 74, 106, 44, 30, 27, 119, 119, 120, 117, 82, 82))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"<loc0000><loc0000><loc0930><loc1012> {SEG}<seg082><seg051><seg005><seg125> wall"
            " ; <loc0722><loc0047><loc0895><loc0378> <seg068><seg114> car ;"
            " <loc0180><loc0596><loc0782><loc0961> david bowie",
            [
                ("wall", (0, 0, 632.5, 435.9375)),
                ("car", (29.375, 338.4375, 236.25, 419.53125)),
                ("david bowie", (372.5, 84.375, 600.625, 366.5625)),
            ],
        ),  # Google's example string (mask tokens shortened)
        (
            "<loc0256><loc0128><loc0768><loc0896> cat ; <loc0000><loc0000><loc1023><loc1023> dog",
            [("cat", CAT), ("dog", (0, 0, 639.375, 479.53125))],
        ),  # detection without masks
        ("<loc0256><loc0128><loc0768><loc0896>", [(None, CAT)]),  # no label
        ("<loc0256> <loc0128> <loc0768> <loc0896>   cat  ;", [("cat", CAT)]),  # extra whitespace
        ("<loc0768><loc0896><loc0256><loc0128> cat", [("cat", CAT)]),  # swapped corners
        ("<loc0512><loc0512><loc2048><loc2048> sky", [("sky", (320, 240, 640, 480))]),  # clipped
        (
            "<loc0256><loc0128><loc0768><loc0896> cat ; <loc0000><loc0000><loc10",
            [("cat", CAT)],
        ),  # truncated second detection
        ("a cat sitting on a sofa", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([CAT], "<loc0256><loc0128><loc0768><loc0896>"),  # one box, y first
        ([(10, 20, 300, 400)], "<loc0043><loc0016><loc0853><loc0480>"),  # rounded, zero-padded
        (
            [CAT, (0, 0, 640, 480)],
            "<loc0256><loc0128><loc0768><loc0896> ; <loc0000><loc0000><loc1023><loc1023>",
        ),  # several joined by ' ; '; the far edge is 1023
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)
