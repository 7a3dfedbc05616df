import pytest

from locvlm.coords import get_codec
from locvlm_client import Box

SIZE = (640, 480)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[27, 62, 74, 99]", [(176.0, 300.0, 476.8, 477.6)]),  # canonical
        ("[ 27 ,62,  74 , 99 ]", [(176.0, 300.0, 476.8, 477.6)]),  # odd whitespace
        ("27 62 74 99", [(176.0, 300.0, 476.8, 477.6)]),  # no brackets or commas
        ("[74, 99, 27, 62]", [(176.0, 300.0, 476.8, 477.6)]),  # swapped corners
        (
            "[0, 0, 9, 9]; [90, 90, 99, 99]",
            [(3.2, 2.4, 60.8, 45.6), (579.2, 434.4, 636.8, 477.6)],
        ),  # two boxes
        (
            "[0, 0, 9, 9, 90, 90, 99, 99]",
            [(3.2, 2.4, 60.8, 45.6), (579.2, 434.4, 636.8, 477.6)],
        ),  # flattened list
        ("[0, 0, 9, 9]; [90, 90", [(3.2, 2.4, 60.8, 45.6)]),  # truncated second box
        ("[-3, 50, 120, 99]", [(0.0, 242.4, 640.0, 477.6)]),  # values outside the grid clipped
        ("[150, 150, 180, 190]", []),  # wholly outside dropped
        ("The red circle is at [27, 62, 74, 99].", [(176.0, 300.0, 476.8, 477.6)]),  # prose around
        ("There are 2 red circles.", []),  # a lone number is not a box
    ],
)
def test_decode(text: str, expected: list[tuple[float, ...]]) -> None:
    got = [b.to_xyxy() for b in get_codec("ivb").decode(text, SIZE)]
    assert got == [pytest.approx(e) for e in expected]


@pytest.mark.parametrize(
    ("bins", "box", "text"),
    [
        (100, (0, 0, 640, 480), "[0, 0, 99, 99]"),  # full image
        (100, (6.4, 4.8, 6.4, 4.8), "[1, 1, 1, 1]"),  # a point on a cell edge
        (224, (320, 240, 640, 480), "[112, 112, 223, 223]"),  # the paper's 224 grid
        (32, (19.9, 0, 20.1, 15), "[0, 0, 1, 1]"),  # 32 bins
    ],
)
def test_encode(bins: int, box: tuple[float, ...], text: str) -> None:
    assert get_codec("ivb", bins=bins).encode([Box.from_xyxy(box)], SIZE) == text


def test_decode_is_fast_path_valid_box() -> None:
    (box,) = get_codec("ivb").decode("[1, 2, 3, 4]", SIZE)
    # decode builds boxes without re-validation; they must still be ordered and finite
    assert Box.model_validate(box.model_dump()) == box
