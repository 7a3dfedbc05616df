"""Is a read answer right? Structural comparison with IoU matching for boxes.

Boxes match when IoU > 0.5 (Acc@0.5); several boxes match one-to-one (greedy by IoU,
so the order the model lists them in does not matter). A dataclass answer may name the
fields that decide (`compared`): spatial answers are judged on their value, their
evidence boxes separately (`spatial.evidence_correct`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from locvlm_client import Box

__all__ = ["IOU_THRESHOLD", "boxes_match", "correct"]

IOU_THRESHOLD = 0.5


def boxes_match(got: Sequence[Box], want: Sequence[Box], threshold: float = IOU_THRESHOLD) -> bool:
    """Same number of boxes and a one-to-one matching with IoU > threshold."""
    if len(got) != len(want):
        return False
    left = list(got)
    for w in sorted(want, key=lambda b: -b.area):
        scores = [g.iou(w) for g in left]
        if not scores or max(scores) <= threshold:
            return False
        left.pop(scores.index(max(scores)))
    return True


def correct(got: Any, expected: Any) -> bool:
    """Whether a read answer `got` equals `expected` (boxes up to IoU > 0.5)."""
    if got is None:
        return expected is None
    if isinstance(expected, Box):
        return isinstance(got, Box) and got.iou(expected) > IOU_THRESHOLD
    if isinstance(expected, tuple | list):
        if expected and all(isinstance(e, Box) for e in expected):
            return isinstance(got, tuple | list) and boxes_match(got, expected)
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return False
        return all(correct(g, e) for g, e in zip(got, expected, strict=True))
    if dataclasses.is_dataclass(expected) and not isinstance(expected, type):
        if type(got) is not type(expected):
            return False
        names = getattr(expected, "compared", None) or [
            f.name for f in dataclasses.fields(expected)
        ]
        return all(correct(getattr(got, n), getattr(expected, n)) for n in names)
    return bool(got == expected)
