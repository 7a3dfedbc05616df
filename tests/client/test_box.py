import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from locvlm_client import Box, ImageSize, as_size


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"x1": math.nan, "y1": 0, "x2": 1, "y2": 1}, "finite"),  # NaN
        ({"x1": 0, "y1": 0, "x2": math.inf, "y2": 1}, "finite"),  # infinity
        ({"x1": 0, "y1": -math.inf, "x2": 1, "y2": 1}, "finite"),  # negative infinity
        ({"x1": 5, "y1": 0, "x2": 1, "y2": 1}, "x2 < x1"),  # x reversed
        ({"x1": 0, "y1": 5, "x2": 1, "y2": 1}, "y2 < y1"),  # y reversed
        ({"x1": "a", "y1": 0, "x2": 1, "y2": 1}, "float"),  # not a number
    ],
)
def test_box_rejects_invalid(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Box(**fields)  # type: ignore[arg-type]


def test_zero_area_box_is_allowed() -> None:
    assert Box(x1=3, y1=4, x2=3, y2=4).area == 0


def test_conversions() -> None:
    box = Box(x1=10, y1=20, x2=40, y2=80)
    assert box.to_xywh() == (10, 20, 30, 60)
    assert box.to_cxcywh() == (25, 50, 30, 60)
    assert Box.from_xywh(box.to_xywh()) == box
    assert Box.from_cxcywh(box.to_cxcywh()) == box
    assert box.to_normalized((100, 200)) == (0.1, 0.1, 0.4, 0.4)
    assert Box.from_normalized((0.1, 0.1, 0.4, 0.4), ImageSize(width=100, height=200)) == box
    assert Box.from_corners(40, 80, 10, 20) == box


@given(
    st.lists(st.floats(-1e4, 1e4), min_size=4, max_size=4),
    st.integers(1, 4096),
    st.integers(1, 4096),
)
def test_normalized_round_trip(values: list[float], width: int, height: int) -> None:
    box = Box.from_corners(*values)
    back = Box.from_normalized(box.to_normalized((width, height)), (width, height))
    for a, b in zip(back.to_xyxy(), box.to_xyxy(), strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),  # identical
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),  # half overlap
        ((0, 0, 10, 10), (10, 0, 20, 10), 0.0),  # touching edges
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),  # disjoint
        ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100),  # contained
        ((3, 3, 3, 3), (3, 3, 3, 3), 0.0),  # two points
    ],
)
def test_iou(a: tuple[float, ...], b: tuple[float, ...], expected: float) -> None:
    assert Box.from_xyxy(a).iou(Box.from_xyxy(b)) == pytest.approx(expected)
    assert Box.from_xyxy(b).iou(Box.from_xyxy(a)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((10, 10, 20, 20), (10, 10, 20, 20)),  # inside
        ((-5, -5, 20, 20), (0, 0, 20, 20)),  # past the top-left
        ((90, 40, 120, 70), (90, 40, 100, 50)),  # past the bottom-right
        ((200, 200, 300, 300), (100, 50, 100, 50)),  # wholly outside collapses
    ],
)
def test_clip(box: tuple[float, ...], expected: tuple[float, ...]) -> None:
    assert Box.from_xyxy(box).clip((100, 50)).to_xyxy() == expected


@pytest.mark.parametrize(
    "size",
    [
        (0, 10),  # zero width
        (10, -1),  # negative height
        (10,),  # one value
        (10.5, 3),  # fractional
    ],
)
def test_as_size_rejects(size: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="image size"):
        as_size(size)  # type: ignore[arg-type]


def test_scale_and_json_round_trip() -> None:
    box = Box(x1=1, y1=2, x2=3, y2=4)
    assert box.scale(2, 3).to_xyxy() == (2, 6, 6, 12)
    assert Box.model_validate_json(box.model_dump_json()) == box
    with pytest.raises(ValueError, match="positive"):
        box.scale(0, 1)
