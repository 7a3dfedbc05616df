"""Seeds raced to `pick_at`, the best by validation finished alone."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from locvlm.train.config import TrainConfig
from locvlm.train.race import entrant_config, race, validation_score


def test_entrants_run_one_thread_each_and_pause_at_the_pick(micro_config: TrainConfig) -> None:
    cfg = replace(micro_config, seeds=3, pick_at=2, seed=7)
    entrant = entrant_config(cfg, 8)
    assert (entrant.seed, entrant.seeds, entrant.threads, entrant.pause_at) == (8, 1, 1, 2)
    assert replace(entrant, seed=cfg.seed, seeds=3, threads=cfg.threads, pause_at=None) == cfg


def test_validation_score_is_the_mean_of_the_last_validation_at_the_step(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [
        {"t": 1.0, "stage": "validation", "step": 2, "locpred": 0.0, "revloc": 0.0},
        {"t": 2.0, "stage": "stage2", "step": 2, "loss": 0.5},
        {"t": 3.0, "stage": "validation", "step": 2, "locpred": 0.5, "revloc": 1.0,
         "parse_failures": 0.9},  # a resumed run validated again: the last one counts
        {"t": 4.0, "stage": "validation", "step": 4, "locpred": 1.0, "revloc": 1.0},
    ]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert validation_score(log, 2) == pytest.approx(0.75)
    assert validation_score(log, 3) is None


def test_a_race_finishes_its_best_seed_and_resumes_to_the_same_model(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    cfg = replace(micro_config, seeds=2, pick_at=2, eval_every=2)
    folder = race(cfg, tmp_path / "race", show_progress=False)
    record = json.loads((tmp_path / "race" / "race.json").read_text())
    scores = {int(k): v for k, v in record["scores"].items()}
    assert set(scores) == {0, 1}
    assert scores[record["winner"]] == max(scores.values())
    loser = 1 - record["winner"]
    assert validation_score(tmp_path / "race" / f"seed-{loser}" / "log.jsonl", 2) == scores[loser]
    stopped = torch.load(tmp_path / "race" / f"seed-{loser}" / "state.pt", weights_only=False)
    assert (stopped["stage"], stopped["step"]) == (3, 2)  # the loser stays paused
    assert not (tmp_path / "race" / f"seed-{loser}" / "model").exists()
    won = tmp_path / "race" / f"seed-{record['winner']}"
    log = [json.loads(line) for line in (won / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r.get("stage") == "validation"] == [2, 4]
    changed = next(r for r in log if r.get("setting") == "threads")
    assert (changed["was"], changed["now"]) == (1, cfg.threads)  # on all threads from the pick
    weights = (won / "model" / "model.safetensors").read_bytes()
    assert (folder / "model.safetensors").read_bytes() == weights
    before = (folder / "model.safetensors").read_bytes()
    race(cfg, tmp_path / "race", show_progress=False)  # run again: nothing left to train
    assert (folder / "model.safetensors").read_bytes() == before


def test_a_pick_outside_stage_2_is_refused(tmp_path: Path, micro_config: TrainConfig) -> None:
    with pytest.raises(ValueError, match="pick_at"):
        race(replace(micro_config, seeds=2, pick_at=4), tmp_path, show_progress=False)
