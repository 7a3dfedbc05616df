import pytest

from locvlm.coords import get_codec
from locvlm_client import Box

SIZE = (640, 480)


def test_docstring_example() -> None:
    codec = get_codec("diga")
    ivb = get_codec("ivb")
    boxes = ivb.decode("[27, 62, 74, 99]", SIZE)
    assert codec.encode(boxes, SIZE) == "[A62+2-3, A97-1+4]"
    assert codec.decode("[A62+2-3, A97-1+4]", SIZE) == boxes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[A62+2-3, A97-1+4]", [(176.0, 300.0, 476.8, 477.6)]),  # canonical
        ("A62 +2 -3 A97 -1 +4", [(176.0, 300.0, 476.8, 477.6)]),  # spaces, no brackets
        ("[A97-1+4, A62+2-3]", [(176.0, 300.0, 476.8, 477.6)]),  # swapped corners
        (
            "[A0-5-5, A0+4+4]; [A99-5-5, A99+4+4]",
            [(3.2, 2.4, 60.8, 45.6), (579.2, 434.4, 636.8, 477.6)],
        ),  # two boxes
        ("[A0-5-5, A0+4+4]; [A99-5-5", [(3.2, 2.4, 60.8, 45.6)]),  # truncated
        ("[A0-9-9, A99+9+9]", [(0.0, 0.0, 640.0, 480.0)]),  # offsets past the grid clipped
        ("[A100+0+0, A99+0+0]", []),  # no such anchor
        ("[A62 2 3, A97 1 4]", []),  # unsigned offsets are ambiguous
    ],
)
def test_decode(text: str, expected: list[tuple[float, ...]]) -> None:
    got = [b.to_xyxy() for b in get_codec("diga").decode(text, SIZE)]
    assert got == [pytest.approx(e) for e in expected]


@pytest.mark.parametrize(
    ("grid", "bins", "text"),
    [
        (10, 100, "[A0-5-5, A99+4+4]"),  # default grid
        (4, 32, "[A0-4-4, A15+3+3]"),  # 4 x 4 anchors over 32 bins
        (1, 100, "[A0-50-50, A0+49+49]"),  # one anchor: plain offsets from the centre
    ],
)
def test_encode_full_image(grid: int, bins: int, text: str) -> None:
    codec = get_codec("diga", grid=grid, bins=bins)
    assert codec.encode([Box(x1=0, y1=0, x2=640, y2=480)], SIZE) == text
