"""Checks shared by the peer-family codec tests; each `test_<family>.py` holds its tables."""

import re
from collections.abc import Callable, Sequence

import pytest

from locvlm.coords import Codec
from locvlm_client import Box

Expected = Sequence[tuple[float, ...] | tuple[str | None, tuple[float, ...]]]
"""Decoded boxes in pixels: `(label, box)`, or a bare box where the family has no labels."""


def _check_decode(codec: Codec, text: str, size: tuple[int, int], expected: Expected) -> None:
    got = [(b.label, b.box.to_xyxy()) for b in codec.decode_labeled(text, size)]
    want = [e if e[0] is None or isinstance(e[0], str) else (None, e) for e in expected]
    assert got == [(label, pytest.approx(box)) for label, box in want]


def _check_encode(
    codec: Codec, boxes: Sequence[tuple[float, ...]], size: tuple[int, int], text: str
) -> None:
    assert codec.encode([Box.from_xyxy(b) for b in boxes], size) == text
    if boxes:  # the constrained-decoding patterns accept what encode writes
        assert re.fullmatch(codec.regex, text)
        assert re.fullmatch(codec.box_regex, codec.encode([Box.from_xyxy(boxes[0])], size))


@pytest.fixture(name="check_decode")
def check_decode_fixture() -> Callable[[Codec, str, tuple[int, int], Expected], None]:
    """`check_decode(codec, text, size, expected)`: decode_labeled gives `expected`."""
    return _check_decode


@pytest.fixture(name="check_encode")
def check_encode_fixture() -> Callable[
    [Codec, Sequence[tuple[float, ...]], tuple[int, int], str], None
]:
    """`check_encode(codec, boxes, size, text)`: encode writes `text`, which the regexes match."""
    return _check_encode
