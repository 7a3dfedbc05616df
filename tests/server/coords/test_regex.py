import re

import pytest

from locvlm.coords._regex import int_range


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (0, 0),  # single value
        (0, 9),  # one digit
        (0, 99),  # IVB default
        (0, 223),  # the paper's 224 grid
        (5, 1023),  # PaliGemma-like, nonzero start
        (0, 1000),  # relative x1000
        (17, 4096),  # several lengths
    ],
)
def test_int_range_matches_exactly_the_range(low: int, high: int) -> None:
    pattern = re.compile(int_range(low, high))
    for i in range(0, 5000):
        assert bool(pattern.fullmatch(str(i))) == (low <= i <= high), i
    assert not pattern.fullmatch("0" + str(high))  # no leading zeros


@pytest.mark.parametrize(("low", "high"), [(-1, 5), (9, 3)])
def test_int_range_rejects_bad_bounds(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="bad integer range"):
        int_range(low, high)
