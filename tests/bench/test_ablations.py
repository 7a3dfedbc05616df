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


def test_every_run_answers_spatial_questions_in_one_format() -> None:
    for evidence, suffix in ((False, ""), (True, "_evidence")):
        plan = runs(None, evidence)
        for name, run in plan.items():
            spatial = {k for k in run["mix"] if k.startswith("spatial_")}
            assert spatial == {f"spatial_{k}{suffix}" for k in ("yes_no", "side", "category")}, name
            assert run["spatial_evidence"] is evidence, name
    plain, boxed = runs(None), runs(None, True)
    for name in plain:  # the objectives themselves do not change with the format
        assert {k for k in plain[name]["mix"] if not k.startswith("spatial_")} == {
            k for k in boxed[name]["mix"] if not k.startswith("spatial_")
        }


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


def test_the_spatial_columns_are_the_model_s_own_answers_not_the_served_ones() -> None:
    from ablations import headline

    def task(accuracy: float, n: int, flips: float, pairs: int) -> dict:
        return {"accuracy": accuracy, "n": n, "flip_consistency": flips, "pairs": pairs}

    report = {"benches": {
        "leftright": {"accuracy": 0.8, "flip_consistency": 0.7, "tasks": {
            "spatial_side": task(0.6, 100, 0.4, 50),
            "spatial_yes_no": task(0.5, 100, 0.2, 50),
            "spatial_side_served": task(1.0, 100, 1.0, 50),  # the listing's sides
        }},
        "abovebelow": {"tasks": {
            "spatial_side": task(0.9, 60, 0.8, 20),  # 20 of its 30 pairs have a twin
            "spatial_yes_no": task(0.5, 60, 0.0, 20),
        }},
    }}  # fmt: skip
    row = headline(report)
    assert row["leftright"] == 0.55
    assert row["n"]["leftright"] == 200
    assert row["leftright_flip_consistent"] == 0.3
    assert row["n"]["leftright_flip_consistent"] == 100
    assert row["leftright_side"] == 0.6
    assert row["abovebelow"] == 0.7
    assert row["n"]["abovebelow_flip_consistent"] == 40
    assert row["abovebelow_flip_consistent"] == 0.4


def test_each_run_s_own_answers_are_read_per_question_for_the_paired_claims(tmp_path: Path) -> None:
    import json

    from ablations import answers

    bench = tmp_path / "bench.jsonl"
    rows = [{"id": "leftright/1/0", "bench": "leftright", "task": "spatial_yes_no"},
            {"id": "leftright/1/1", "bench": "leftright", "task": "spatial_side"},
            {"id": "grounding/1/0", "bench": "grounding", "task": "locpred"},
            {"id": "pope/1/0", "bench": "pope", "task": "exists"}]  # fmt: skip
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "a").mkdir()
    saved = [{"id": "leftright/1/0", "correct": True},  # yes/no: not a headline accuracy
             {"id": "leftright/1/1", "correct": False},
             {"id": "leftright/1/1#served", "correct": True},  # a served row: not the model's
             {"id": "grounding/1/0", "correct": True}]  # fmt: skip
    (tmp_path / "a").joinpath("report.answers.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in saved)
    )
    found = answers(bench, {name: tmp_path / name / "report.json" for name in ("a", "b")})
    assert list(found) == ["a"]  # b saved no answers
    assert found["a"]["leftright_side"] == {"leftright/1/1": False}
    assert found["a"]["grounding_acc50"] == {"grounding/1/0": True}
    assert found["a"]["revloc"] == {}


def test_the_spatial_curves_plot_the_form_the_runs_answer_in() -> None:
    import json

    from ablations import plotted, runs

    for evidence in (False, True):
        mix = json.dumps(runs(None, evidence)["codec-ivb"]["mix"])
        spatial = [m for m in plotted(evidence) if m.startswith("spatial_")]
        assert len(spatial) == 2
        assert all(f'"{m}"' in mix for m in spatial)  # a metric the runs validate on
