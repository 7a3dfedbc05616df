"""The ablations' claims section: verdicts in standard errors of the difference."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _claims import CLAIMS, claims_section, difference, paired_difference

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


def test_a_paired_difference_counts_only_the_questions_whose_answer_changed() -> None:
    a = {f"q{i}": i < 60 for i in range(100)}  # right on q0..q59
    b = {f"q{i}": i < 50 for i in range(100)} | {"extra": True}  # right on q0..q49
    d, z, n = paired_difference(a, b)
    assert (d, n) == (pytest.approx(0.1), 100)  # "extra" is not in both
    sd = math.sqrt((10 * 0.9**2 + 90 * 0.1**2) / 99)
    assert z == pytest.approx(0.1 / (sd / 10))
    assert z > difference(_run(0.6, 100), _run(0.5, 100), "leftright_side")[1]  # tighter


def test_the_verdict_reads_the_paired_difference_where_the_answers_are_given() -> None:
    results = {"codec-ivb": _run(0.90, n=100), "objectives-baseline": _run(0.86, n=100)}
    unpaired = claims_section(results)
    assert "(all three vs baseline): did not hold" in unpaired  # +0.04: ~1 SE unpaired
    same = {f"q{i}": i < 86 for i in range(100)}
    better = {f"q{i}": i < 90 for i in range(100)}  # the same answers, 4 more right
    answers = {
        "codec-ivb": {"leftright_side": better, "abovebelow_side": better},
        "objectives-baseline": {"leftright_side": same, "abovebelow_side": same},
    }
    paired = claims_section(results, answers)
    assert "leftright_side +0.040 (+0.9 SE; paired +2.0 SE over 100 questions)" in paired
    assert "leftright_flip_consistent +0.040 (+0.9 SE)" in paired  # no answers: unpaired
    assert "(all three vs baseline): partly held" in paired


def test_a_metric_without_answers_from_both_runs_is_judged_unpaired() -> None:
    results = {"codec-ivb": _run(0.90, n=400), "objectives-baseline": _run(0.50, n=400)}
    right = {f"q{i}": True for i in range(10)}
    answers = {"codec-ivb": {"leftright_side": right, "abovebelow_side": {}},
               "objectives-baseline": {"leftright_side": {}, "abovebelow_side": {}}}  # fmt: skip
    text = claims_section(results, answers)
    assert "leftright_side +0.400 (+" in text
    assert "paired" not in text  # nothing answered by both: no paired figure of 0 SE
    assert "(all three vs baseline): held" in text
