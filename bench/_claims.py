"""The paper's claims, judged on the ablation tables in standard errors.

    from _claims import claims_section
    markdown = claims_section(results)   # results: run name -> headline values and "n"
    markdown = claims_section(results, answers)  # answers: run -> metric -> id -> correct

Each claim compares two runs on some headline metrics. A difference is given in standard
errors of the difference, `(a - b) / sqrt(se_a^2 + se_b^2)`, with each run's standard
error `sqrt(p (1 - p) / n)` over its `n` questions (F1 treated as an accuracy over the
split's questions; flip consistency over pairs). That treats the two runs as independent
samples, which is conservative: both answer the same questions, and a question one run
finds hard the other often does too. Where both runs' answers to each question are given
(`answers`), an accuracy's difference is also measured paired, in standard errors of the
mean per-question difference (`paired_difference`), and the verdict reads the paired one.
A claim held on a metric when the difference is at least `HELD_Z` standard errors in its
favour, and was reversed when it is as large against it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLAIMS",
    "RELATIONS_LEARNT",
    "Claim",
    "claims_section",
    "difference",
    "paired_difference",
    "standard_error",
]

HELD_Z = 2.0
RELATIONS_LEARNT = 0.85  # issue 16: the all-objectives run's side answers, on both axes
SPATIAL = ("leftright_side", "abovebelow_side", "leftright_flip_consistent")
POPE = ("pope_f1_random", "pope_f1_popular", "pope_f1_adversarial")
CODEC = ("grounding_acc50", "revloc", "leftright_side", "abovebelow_side")


@dataclass(frozen=True)
class Claim:
    """`better` should beat `worse` on each of `metrics` (run names as in ablations.py)."""

    text: str
    better: str
    worse: str
    metrics: tuple[str, ...]


CLAIMS = (
    Claim("Localization objectives improve spatial reasoning (all three vs baseline)",
          "all", "objectives-baseline", SPATIAL),
    Claim("LocPred alone improves spatial reasoning (+LocPred vs baseline)",
          "objectives-+locpred", "objectives-baseline", SPATIAL),
    Claim("NegPred reduces hallucination (+LocPred+NegPred vs +LocPred)",
          "objectives-+locpred+negpred", "objectives-+locpred", POPE),
    Claim("The localization objectives reduce hallucination (all three vs baseline)",
          "all", "objectives-baseline", POPE),
    Claim("Integer binning beats normalized floats (ivb vs nfp)", "codec-ivb", "codec-nfp", CODEC),
    Claim("Integer binning beats grid anchors (ivb vs diga)", "codec-ivb", "codec-diga", CODEC),
)  # fmt: skip


Answers = Mapping[str, Mapping[str, Mapping[str, bool]]]  # run -> metric -> id -> correct


def _name(results: Mapping[str, Any], name: str) -> str:
    """A run's name in `results`: "all" is `objectives-all`, else `codec-ivb` (its twin)."""
    if name == "all":
        return "objectives-all" if "objectives-all" in results else "codec-ivb"
    return name


def standard_error(p: float, n: int) -> float:
    """Of a share `p` of `n` answers (inf with none)."""
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n > 0 else math.inf


def difference(a: Mapping[str, Any], b: Mapping[str, Any], metric: str) -> tuple[float, float]:
    """`a - b` on `metric` and that difference in standard errors."""
    pa, pb = float(a[metric]), float(b[metric])
    na, nb = int(a["n"][metric]), int(b["n"][metric])
    se = math.hypot(standard_error(pa, na), standard_error(pb, nb))
    d = pa - pb
    return d, _z(d, se)


def _z(d: float, se: float) -> float:
    return d / se if se > 0 else (0.0 if d == 0 else math.copysign(math.inf, d))


def paired_difference(a: Mapping[str, bool], b: Mapping[str, bool]) -> tuple[float, float, int]:
    """`a - b` over the questions both runs answered (id -> correct).

    Returns the difference, it in standard errors of the mean per-question difference, and
    the number of those questions.
    """
    ids = sorted(a.keys() & b.keys())
    n = len(ids)
    if n < 2:
        return 0.0, 0.0, n
    diffs = [int(a[i]) - int(b[i]) for i in ids]
    mean = sum(diffs) / n
    variance = sum((x - mean) ** 2 for x in diffs) / (n - 1)
    return mean, _z(mean, math.sqrt(variance / n)), n


def _verdict(zs: list[float]) -> str:
    held = sum(z >= HELD_Z for z in zs)
    reversed_ = sum(z <= -HELD_Z for z in zs)
    if reversed_ and not held:
        return "reversed"
    if held == len(zs):
        return "held"
    if held:
        return "partly held" + (" (and reversed on some)" if reversed_ else "")
    return "did not hold (within noise)"


def _judged(
    results: Mapping[str, Mapping[str, Any]], answers: Answers, claim: Claim, metric: str
) -> tuple[str, float]:
    """One metric of a claim: its text and the z its verdict reads (paired where it can)."""
    better, worse = _name(results, claim.better), _name(results, claim.worse)
    d, z = difference(results[better], results[worse], metric)
    text = f"{metric} {d:+.3f} ({z:+.1f} SE"
    mine, theirs = answers.get(better, {}).get(metric, {}), answers.get(worse, {}).get(metric, {})
    _, paired, n = paired_difference(mine, theirs)
    if n < 2:  # no answers saved for both: the unpaired difference alone
        return text + ")", z
    return text + f"; paired {paired:+.1f} SE over {n} questions)", paired


def claims_section(results: Mapping[str, Mapping[str, Any]], answers: Answers | None = None) -> str:
    """Markdown: whether the budget can speak on relations, then each claim's verdict."""
    lines = ["## The paper's claims", ""]
    everything = results.get(_name(results, "all"))
    if everything is not None:
        lr, ab = float(everything["leftright_side"]), float(everything["abovebelow_side"])
        speaks = min(lr, ab) >= RELATIONS_LEARNT
        lines += [
            f"The all-objectives run names the side {lr:.3f} of the time left/right and "
            f"{ab:.3f} above/below: "
            + ("relations are learnt at this budget, so the spatial claims can be tested."
               if speaks else f"below {RELATIONS_LEARNT} on at least one axis, so this budget "
               "is too small to test the spatial claims."),
            "",
        ]  # fmt: skip
    for claim in CLAIMS:
        if not {_name(results, claim.better), _name(results, claim.worse)} <= results.keys():
            continue
        found = [_judged(results, answers or {}, claim, m) for m in claim.metrics]
        parts = ", ".join(text for text, _ in found)
        lines.append(f"- **{claim.text}: {_verdict([z for _, z in found])}.** {parts}")
    return "\n".join(lines) + "\n"
