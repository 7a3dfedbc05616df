"""The paper's two ablations in the shapes world, each run on the same budget and seeds.

    python bench/ablations.py [--only codec|objectives] [--steps 3000] [--jobs 2]
                              [--scenes 120] [--out runs/ablations] [--evidence]

1. Coordinate representation: `nfp` vs `ivb` vs `diga` (same recipe otherwise) ->
   grounding Acc@0.5, RevLoc, spatial accuracy.
2. Objectives: baseline (captions, POPE-style yes/no, counting and spatial VQA: no
   localization objective) vs + LocPred (phrase -> box, and its many-object form, the
   detection listing) vs + LocPred + NegPred vs all three (+ RevLoc and contextual
   description) -> spatial accuracy with flip consistency, POPE F1, grounding.

Every run trains `tiny-shapes` from scratch with the same stage-0/stage-2 step counts and
seed, then is evaluated on one held-out benchmark (a seed never used in training, every
size and aspect of the contract). `--jobs 2` trains two runs at once with one torch
thread each: on two cores that is ~1.3x the throughput of one run on two threads, and the
two runs of a pair see the same machine load, so their time axes stay comparable.
Spatial answers are plain (no evidence boxes) in every run, so that the baseline's answer
format is the same as the others'; with `--evidence` every run states both boxes first
(the baseline then writes boxes in its spatial answers: it lacks LocPred, NegPred and
RevLoc, not box output). `--set KEY=VALUE` goes to every run's `locvlm train`,
under each run's own settings: the nfp run keeps `stage0_coords` off (a value is several
tokens there, and the setting ties each image token to one value token).
Results: `OUT/<run>/report.json`, the table in `OUT/ablations.md` (each cell with its
standard error, each run's training and evaluation
minutes; training time comes from the run's log, so it survives a resume), then the
paper's claims, each judged in standard errors of the difference (`_claims.py`; paired
per question where both runs' saved answers are there), plots
`OUT/*.png`. Run again on a finished OUT, it only rewrites the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _claims import claims_section, standard_error  # beside this script

from locvlm.tasks.spatial import evidence_form

BENCH_SEED = 424_242  # held out: training streams use seeds 0..N
SPATIAL = {"spatial_yes_no": 1.0, "spatial_side": 1.0, "spatial_category": 0.5}
LOCPRED = {"locpred": 3.0, "detect": 1.0}  # one object's box; every object's (the default mix)
QUESTIONS = {  # a headline accuracy -> the benchmark and task of its questions
    "grounding_acc50": ("grounding", "locpred"),
    "revloc": ("region", "revloc"),
    "leftright_side": ("leftright", "spatial_side"),
    "abovebelow_side": ("abovebelow", "spatial_side"),
}


def objectives(evidence: bool = False) -> dict[str, dict[str, float]]:
    """Each objectives run's mix; with `evidence`, spatial answers state both boxes first."""
    spatial = {evidence_form(k, evidence): w for k, w in SPATIAL.items()}
    general = {"caption": 0.5, "exists": 1.0, "counting": 1.0, **spatial}
    return {
        "baseline": general,
        "+locpred": {**general, **LOCPRED},
        "+locpred+negpred": {**general, **LOCPRED, "negpred": 1.0},
        "all": {**general, **LOCPRED, "negpred": 1.0, "revloc": 1.5, "region": 1.5},
    }


CODECS = {"nfp": {"name": "nfp", "decimals": 3}, "ivb": {"name": "ivb", "bins": 32},
          "diga": {"name": "diga", "grid": 4, "bins": 32}}  # fmt: skip


def runs(only: str | None, evidence: bool = False) -> dict[str, dict[str, Any]]:
    """Run name -> `--set` overrides; with `evidence`, spatial answers are boxes first."""
    out: dict[str, dict[str, Any]] = {}
    mixes = objectives(evidence)
    if only in (None, "codec"):
        for name, codec in CODECS.items():
            out[f"codec-{name}"] = {"codec": codec, "mix": mixes["all"],
                                    "spatial_evidence": evidence}  # fmt: skip
        # nfp writes a value in several tokens ("0.123"): stage 0 cannot tie image tokens
        # to one value token each, so that run keeps the rest of the recipe without it
        out["codec-nfp"]["stage0_coords"] = False
    if only in (None, "objectives"):
        for name, mix in mixes.items():
            if name != "all" or only == "objectives":  # "all" with ivb is codec-ivb
                out[f"objectives-{name}"] = {"codec": CODECS["ivb"], "mix": mix,
                                             "spatial_evidence": evidence}  # fmt: skip
    return out


def _locvlm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "locvlm", *args], check=True)


def make_bench(out: Path, scenes: int) -> Path:
    """The held-out benchmark shared by every run."""
    bench = out / "bench.jsonl"
    if not bench.exists():
        data = out / "bench-data"
        _locvlm(
            "data",
            "shapes",
            "--n",
            str(scenes),
            "--seed",
            str(BENCH_SEED),
            "--size",
            "random",
            "--out",
            str(data),
        )
        _locvlm("data", "bench", "--kind", "leftright,abovebelow,pope,grounding,region,counting",
                "--coco", str(data / "annotations.json"), "--images", str(data), "--seed", "1",
                "--out", str(bench))  # fmt: skip
    return bench


def train_and_eval(
    name: str,
    overrides: dict[str, Any],
    steps: dict[str, int],
    out: Path,
    bench: Path,
    threads: int,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Train one run (resumes if interrupted), evaluate it, return its report."""
    run = out / name
    sets = [f"--set=stage0.steps={steps['stage0']}", f"--set=stage2.steps={steps['stage2']}",
            f"--set=eval_every={steps['stage2'] // 4}",
            f"--set=threads={threads}"]  # fmt: skip
    sets += [f"--set={item}" for item in extra]
    sets += [f"--set={k}={json.dumps(v)}" for k, v in overrides.items()]  # the run's own win
    if not (run / "model" / "config.json").exists():
        _locvlm("train", "--out", str(run), "--no-progress", *sets)
    report_path = run / "report.json"
    if report_path.exists():
        return dict(json.loads(report_path.read_text()))
    start = time.time()
    _locvlm("eval", "--model", str(run), "--bench", str(bench), "--out", str(report_path),
            "--threads", str(threads))  # fmt: skip
    report = dict(json.loads(report_path.read_text()))
    report["eval_s"] = round(time.time() - start)
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _own(bench: dict[str, Any]) -> tuple[float, float, int, int]:
    """A spatial bench's accuracy and flip consistency over the model's own answers.

    The rows "as the API answers" (`_served`) are left out: they read the side from the
    listing, a serving path, not the model's reasoning. Returns (accuracy, flip
    consistency, questions, pairs); pairs are the flip pairs of each task.
    """
    tasks = [t for name, t in bench.get("tasks", {}).items() if not name.endswith("_served")]
    n = sum(t["n"] for t in tasks)
    pairs = [(t.get("pairs", t["n"] // 2), t.get("flip_consistency", 0.0)) for t in tasks]
    n_pairs = sum(p for p, _ in pairs)
    accuracy = sum(t["accuracy"] * t["n"] for t in tasks) / n if n else 0.0
    flips = sum(p * f for p, f in pairs) / n_pairs if n_pairs else 0.0
    return accuracy, flips, n, n_pairs


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The ablation table's columns from an eval report, with their sample sizes.

    The model's own answers only (not the rows "as the API answers"). Under "n":
    questions; pairs for flip consistency; a split's questions for POPE F1.
    """
    b = report["benches"]
    pope = b.get("pope", {})
    split = pope.get("pope", {})
    lr_all, lr_flip, lr_n, lr_pairs = _own(b.get("leftright", {}))
    ab_all, ab_flip, ab_n, ab_pairs = _own(b.get("abovebelow", {}))
    task = {metric: b.get(bench, {}).get("tasks", {}).get(name, {})
            for metric, (bench, name) in QUESTIONS.items()}  # fmt: skip
    accuracy = {m: (t.get("accuracy", 0.0), t.get("n", 0)) for m, t in task.items()}
    values = {
        "grounding_acc50": accuracy["grounding_acc50"],
        "revloc": accuracy["revloc"],
        "leftright": (lr_all, lr_n),
        "leftright_side": accuracy["leftright_side"],  # "which side": relations alone
        "leftright_flip_consistent": (lr_flip, lr_pairs),
        "abovebelow": (ab_all, ab_n),
        "abovebelow_side": accuracy["abovebelow_side"],
        "abovebelow_flip_consistent": (ab_flip, ab_pairs),
        **{f"pope_f1_{name}": (split.get(name, {}).get("f1", 0.0), pope.get("n", 0) // 3)
           for name in ("random", "popular", "adversarial")},
    }  # fmt: skip
    return {**{k: v for k, (v, _) in values.items()}, "n": {k: n for k, (_, n) in values.items()}}


def answers(bench: Path, runs: dict[str, Path]) -> dict[str, dict[str, dict[str, bool]]]:
    """Run -> headline accuracy -> question id -> whether the model's own answer was right.

    From each run's `report.answers.jsonl` (`locvlm eval --out` writes it beside the
    report), for the paired differences of the claims; a run without one is left out.
    """
    metric_of = {where: metric for metric, where in QUESTIONS.items()}
    rows = [json.loads(line) for line in bench.read_text().splitlines() if line.strip()]
    metrics = {r["id"]: metric_of[(r["bench"], r["task"])] for r in rows
               if (r["bench"], r["task"]) in metric_of}  # fmt: skip
    found: dict[str, dict[str, dict[str, bool]]] = {}
    for name, report in runs.items():
        saved = report.with_suffix(".answers.jsonl")
        if not saved.exists():
            continue
        per_metric: dict[str, dict[str, bool]] = {m: {} for m in QUESTIONS}
        for line in saved.read_text().splitlines():
            record = json.loads(line)
            if (metric := metrics.get(record["id"])) is not None:
                per_metric[metric][record["id"]] = bool(record["correct"])
        found[name] = per_metric
    return found


def table(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table of the headline numbers, each with its standard error."""
    cols = [c for c, v in next(iter(results.values())).items() if isinstance(v, float)]

    def cell(r: dict[str, Any], c: str) -> str:
        n = r.get("n", {}).get(c)
        if not n:
            return f"{r[c]:.3f}"
        return f"{r[c]:.3f} +/- {standard_error(r[c], n):.3f}"

    lines = ["| run | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines += [f"| {n} | " + " | ".join(cell(r, c) for c in cols) + " |" for n, r in results.items()]
    return "\n".join(lines) + "\n"


def plotted(evidence: bool = False) -> tuple[str, ...]:
    """The validation metrics plotted: the spatial ones in the form the runs answer."""
    spatial = tuple(evidence_form(k, evidence) for k in ("spatial_yes_no", "spatial_side"))
    return ("locpred", *spatial, "revloc", "exists", "negpred")


def plot(out: Path, names: list[str], evidence: bool = False) -> None:
    """Validation accuracy vs training time, one PNG per metric, one line per run."""
    from plots import metric_curves  # bench/plots.py, beside this script

    for metric in plotted(evidence):
        metric_curves({n: out / n / "log.jsonl" for n in names}, metric, out / f"{metric}.png")


def main() -> None:
    """Run the ablations and write the table and plots."""
    from plots import train_minutes  # bench/plots.py, beside this script

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["codec", "objectives"])
    parser.add_argument("--stage0-steps", type=int, default=800)
    parser.add_argument("--steps", type=int, default=3000, help="stage-2 steps per run")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once")
    parser.add_argument("--scenes", type=int, default=120, help="held-out benchmark scenes")
    parser.add_argument("--out", type=Path, default=Path("runs/ablations"))
    parser.add_argument(
        "--evidence", action="store_true",
        help="every run answers spatial questions with both boxes first (the shipped format)",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], dest="extra",
        help="KEY=VALUE for every run's `locvlm train` (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bench = make_bench(args.out, args.scenes)
    steps = {"stage0": args.stage0_steps, "stage2": args.steps}
    threads = max(1, 2 // args.jobs)
    plan = runs(args.only, args.evidence)
    with ThreadPoolExecutor(args.jobs) as pool:
        reports = pool.map(
            lambda name: train_and_eval(
                name, plan[name], steps, args.out, bench, threads, args.extra
            ),
            plan,
        )
        results = {}
        for name, report in zip(plan, reports, strict=True):
            results[name] = {
                **headline(report),
                "train_min": train_minutes(args.out / name / "log.jsonl"),
                "eval_min": report.get("eval_s", float("nan")) / 60,
            }
            (args.out / "ablations.json").write_text(json.dumps(results, indent=2) + "\n")
    paired = answers(bench, {name: args.out / name / "report.json" for name in results})
    markdown = table(results) + "\n" + claims_section(results, paired)
    (args.out / "ablations.md").write_text(markdown)
    plot(args.out, list(results), args.evidence)
    print(markdown)


if __name__ == "__main__":
    main()
