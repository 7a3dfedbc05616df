import pytest

from locvlm.coords import get_codec
from locvlm_client import Box

SIZE = (1000, 500)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[0.1234, 0.5000, 0.3300, 0.8125]", [(123.4, 250.0, 330.0, 406.25)]),  # paper's example
        ("[.1234,.5,.33,.8125]", [(123.4, 250.0, 330.0, 406.25)]),  # leading dot, no spaces
        ("[0.3300, 0.8125, 0.1234, 0.5000]", [(123.4, 250.0, 330.0, 406.25)]),  # swapped corners
        (
            "[0.1, 0.1, 0.2, 0.2]; [0.5, 0.5, 0.9, 1.2]",
            [(100, 50, 200, 100), (500, 250, 900, 500)],
        ),  # two boxes, one clipped
        ("[0.1, 0.1, 0.2, 0.2]; [0.5, 0.5, 0.", [(100, 50, 200, 100)]),  # truncated
        ("[1e-1, 0.1, 2e-1, 0.2]", [(100, 50, 200, 100)]),  # exponent notation
        ("[0.1, 0.1, 0.2]", []),  # three numbers
    ],
)
def test_decode(text: str, expected: list[tuple[float, ...]]) -> None:
    got = [b.to_xyxy() for b in get_codec("nfp").decode(text, SIZE)]
    assert got == [pytest.approx(e) for e in expected]


@pytest.mark.parametrize(
    ("decimals", "text"),
    [
        (4, "[0.1234, 0.5000, 0.3300, 0.8125]"),  # the paper's four decimals
        (2, "[0.12, 0.50, 0.33, 0.81]"),  # two decimals
    ],
)
def test_encode(decimals: int, text: str) -> None:
    box = Box(x1=123.4, y1=250, x2=330, y2=406.25)
    assert get_codec("nfp", decimals=decimals).encode([box], SIZE) == text
