"""Properties every registered codec must have: round trip, regex, tolerance, no raising."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locvlm.coords import CODECS, get_codec
from locvlm_client import Box

NAMES = sorted(CODECS)


@st.composite
def sized_boxes(draw: st.DrawFn) -> tuple[tuple[int, int], list[Box]]:
    width = draw(st.integers(1, 4096))
    height = draw(st.integers(1, 4096))
    boxes = []
    for _ in range(draw(st.integers(1, 4))):
        xs = sorted(draw(st.floats(0, width)) for _ in range(2))
        ys = sorted(draw(st.floats(0, height)) for _ in range(2))
        boxes.append(Box(x1=xs[0], y1=ys[0], x2=xs[1], y2=ys[1]))
    return (width, height), boxes


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=sized_boxes())
def test_round_trip_within_tolerance(name: str, case: tuple[tuple[int, int], list[Box]]) -> None:
    size, boxes = case
    codec = get_codec(name)
    text = codec.encode(boxes, size)
    back = codec.decode(text, size)
    assert len(back) == len(boxes), text
    for got, want in zip(back, boxes, strict=True):
        for g, w, side in zip(got.to_xyxy(), want.to_xyxy(), size * 2, strict=True):
            assert abs(g - w) <= codec.tolerance * side * (1 + 1e-9) + 1e-9, (text, got, want)


@pytest.mark.parametrize("name", NAMES)
def test_encoded_box_matches_its_regex(name: str) -> None:
    codec = get_codec(name)
    size = (640, 480)
    for box in [Box(x1=0, y1=0, x2=640, y2=480), Box(x1=12.5, y1=300, x2=13, y2=479)]:
        assert re.fullmatch(codec.box_regex, codec.encode([box], size)), name
    two = codec.encode([Box(x1=1, y1=2, x2=3, y2=4), Box(x1=100, y1=200, x2=300, y2=400)], size)
    assert re.fullmatch(codec.regex, two), two


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_decode_never_raises_on_text(name: str, text: str) -> None:
    codec = get_codec(name)
    for size in [(1, 1), (640, 480), (37, 4096)]:
        assert isinstance(codec.parse(text, size), list)
        for box in codec.decode(text, size):
            assert 0 <= box.x1 <= box.x2 <= size[0]
            assert 0 <= box.y1 <= box.y2 <= size[1]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "I cannot see any object there.",  # prose only
        "[[[[",  # brackets only
        "\x00\uffff" * 50,  # control and odd characters
        "9" * 5000,  # one enormous number
        "[1e999, 1e999, 1e999, 1e999]",  # overflow
    ],
)
def test_decode_garbage_gives_empty(name: str, text: str) -> None:
    assert get_codec(name).decode(text, (640, 480)) == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "bad",
    [
        [Box(x1=0, y1=0, x2=700, y2=10)],  # right edge past the image
        [Box(x1=-5, y1=0, x2=10, y2=10)],  # left edge before it
        [(0, 0, 10, 10)],  # a tuple, not a Box
    ],
)
def test_encode_rejects_invalid_boxes(name: str, bad: list[Box]) -> None:
    with pytest.raises(ValueError, match=r"box|Box"):
        get_codec(name).encode(bad, (640, 480))


@pytest.mark.parametrize("name", NAMES)
def test_codec_rejects_bad_image_size(name: str) -> None:
    codec = get_codec(name)
    with pytest.raises(ValueError, match="image size"):
        codec.encode([Box(x1=0, y1=0, x2=1, y2=1)], (0, 10))
    with pytest.raises(ValueError, match="image size"):
        codec.decode("[1, 2, 3, 4]", (10, -3))


@pytest.mark.parametrize("name", NAMES)
def test_config_rebuilds_the_same_codec(name: str) -> None:
    codec = get_codec(name)
    config = dict(codec.config)
    assert get_codec(config.pop("name"), **config) == codec


def test_encode_of_no_boxes_is_empty_text() -> None:
    assert get_codec("ivb").encode([], (10, 10)) == ""
