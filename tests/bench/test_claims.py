"""The ablations' claims section: verdicts in standard errors of the difference."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _claims import CLAIMS, claims_section, difference

METRICS = sorted({m for claim in CLAIMS for m in claim.metrics})


def _run(value: float, n: int = 400, **metrics: float) -> dict[str, Any]:
    values = {m: metrics.get(m, value) for m in METRICS}
    return {**values, "n": dict.fromkeys(METRICS, n)}


def test_a_difference_is_counted_in_standard_errors() -> None:
    a, b = _run(0.6, n=100), _run(0.5, n=100)
    d, z = difference(a, b, "leftright_side")
    assert d == pytest.approx(0.1)
    assert z == pytest.approx(0.1 / math.hypot(math.sqrt(0.24 / 100), math.sqrt(0.25 / 100)))


def test_each_claim_is_judged_from_its_two_runs() -> None:
    results = {
        "codec-ivb": _run(0.90),  # all three objectives: relations learnt
        "codec-nfp": _run(0.90, grounding_acc50=0.60),  # ivb ahead on grounding only
        "codec-diga": _run(0.95),  # diga ahead on every metric
        "objectives-baseline": _run(0.50),
        "objectives-+locpred": _run(0.51),
        "objectives-+locpred+negpred": _run(0.51),
    }
    text = claims_section(results)
    assert "relations are learnt at this budget" in text
    assert "(all three vs baseline): held.** leftright_side +0.400" in text
    assert "LocPred alone improves spatial reasoning (+LocPred vs baseline): did not hold" in text
    assert "(ivb vs nfp): partly held.** grounding_acc50 +0.300" in text
    assert "(ivb vs diga): reversed." in text


def test_a_budget_without_relations_says_the_spatial_claims_cannot_be_tested() -> None:
    results = {"codec-ivb": _run(0.9, leftright_side=0.52), "objectives-baseline": _run(0.5)}
    text = claims_section(results)
    assert "too small to test the spatial claims" in text
    assert "ivb vs" not in text  # the codec runs are missing: their claims are left out
