"""Regular expressions for integer ranges, used by the codecs' constraint patterns."""

from __future__ import annotations

from functools import cache

__all__ = ["int_range"]


@cache  # pure; codecs rebuild their constraint regex for every request
def int_range(low: int, high: int) -> str:
    """A non-capturing regex matching the decimal integers `low..high` (no leading zeros).

    Raises:
        ValueError: when `low` is negative or above `high`.
    """
    if low < 0 or low > high:
        raise ValueError(f"bad integer range {low}..{high}")
    parts: list[str] = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        lo = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        hi = min(high, 10**digits - 1)
        if lo <= hi:
            parts.extend(_same_length(str(lo), str(hi)))
    # Longest alternatives first so a regex engine without backtracking prefers them.
    parts.sort(key=len, reverse=True)
    return "(?:" + "|".join(parts) + ")"


def _same_length(lo: str, hi: str) -> list[str]:
    if not lo:
        return [""]
    rest = len(lo) - 1
    if lo[1:] == "0" * rest and hi[1:] == "9" * rest:
        head = lo[0] if lo[0] == hi[0] else f"[{lo[0]}-{hi[0]}]"
        return [head + r"\d" * rest]
    if lo[0] == hi[0]:
        return [lo[0] + p for p in _same_length(lo[1:], hi[1:])]
    out = [lo[0] + p for p in _same_length(lo[1:], "9" * rest)]
    a, b = int(lo[0]) + 1, int(hi[0]) - 1
    if a <= b:
        out.append((str(a) if a == b else f"[{a}-{b}]") + r"\d" * rest)
    out.extend(hi[0] + p for p in _same_length("0" * rest, hi[1:]))
    return out
