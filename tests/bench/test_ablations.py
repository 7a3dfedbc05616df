"""`bench/ablations.py`'s plan: which settings each run trains with."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from ablations import runs


def test_nfp_runs_without_stage0_coords_which_needs_one_token_a_value() -> None:
    plan = runs("codec")
    assert plan["codec-nfp"]["stage0_coords"] is False  # "0.123" is several tokens
    assert "stage0_coords" not in plan["codec-ivb"]  # the recipe's (or --set's) choice
    assert set(runs("objectives")) == {
        "objectives-baseline", "objectives-+locpred", "objectives-+locpred+negpred",
        "objectives-all",
    }  # fmt: skip


def test_a_run_s_own_setting_wins_over_one_given_to_every_run(tmp_path: Path, monkeypatch) -> None:
    import ablations

    called: list[tuple[str, ...]] = []

    def record(*args: str) -> None:
        called.append(args)
        if args[0] == "eval":
            report = Path(args[args.index("--out") + 1])
            report.parent.mkdir(parents=True)
            report.write_text("{}")

    monkeypatch.setattr(ablations, "_locvlm", record)
    steps = {"stage0": 1, "stage2": 4}
    extra = ["stage0_coords=true"]
    ablations.train_and_eval("codec-nfp", runs("codec")["codec-nfp"], steps, tmp_path,
                             tmp_path / "bench.jsonl", 1, extra)  # fmt: skip
    train = called[0]
    sets = [a for a in train if a.startswith("--set=stage0_coords=")]
    assert sets == ["--set=stage0_coords=true", "--set=stage0_coords=false"]  # the last wins
