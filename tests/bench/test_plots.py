"""`bench/plots.py`'s one clock across resumes, on the logs trainers write."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from plots import timeline, train_minutes


def _log(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_resume_with_the_saved_clock_drops_what_was_redone_after_the_checkpoint(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path, [
        {"t": 0.8, "stage": "run", "event": "start", "resume_step": 0},
        {"t": 100.0, "stage": "stage2", "step": 500, "loss": 1.0},
        {"t": 200.0, "stage": "stage2", "step": 1000, "loss": 0.9},  # the checkpoint
        {"t": 5000.0, "stage": "stage2", "step": 1025, "loss": 0.8},  # after a long pause
        {"t": 0.4, "event": "setting changed", "setting": "threads"},  # before the clock
        {"t": 200.0, "stage": "run", "event": "start", "resume_step": 1000},
        {"t": 210.0, "stage": "stage2", "step": 1025, "loss": 0.8},
        {"t": 300.0, "stage": "stage2", "step": 1500, "loss": 0.7},
    ])  # fmt: skip
    steps = [(r.get("step"), r["t"]) for r in timeline(log) if "step" in r]
    assert steps == [(500, 100.0), (1000, 200.0), (1025, 210.0), (1500, 300.0)]
    assert train_minutes(log) == 5.0


def test_the_validation_of_the_checkpoint_s_own_step_is_kept_at_the_checkpoint_s_time(
    tmp_path: Path,
) -> None:
    # the trainer writes the checkpoint, then validates that model; a resume starts after
    # both and does not validate that step again
    log = _log(tmp_path, [
        {"t": 0.8, "stage": "run", "event": "start", "resume_step": 0},
        {"t": 941.9, "stage": "stage2", "step": 1000, "loss": 0.9},
        {"t": 946.5, "stage": "validation", "step": 1000, "locpred": 0.367},
        {"t": 960.0, "stage": "stage2", "step": 1025, "loss": 0.8},  # redone
        {"t": 941.9, "stage": "run", "event": "start", "resume_step": 1000},
        {"t": 955.0, "stage": "stage2", "step": 1025, "loss": 0.8},
        {"t": 1454.4, "stage": "validation", "step": 2000, "locpred": 0.733},
    ])  # fmt: skip
    rows = [(r["stage"], r.get("step"), r["t"]) for r in timeline(log) if "step" in r]
    assert rows == [
        ("stage2", 1000, 941.9), ("validation", 1000, 941.9), ("stage2", 1025, 955.0),
        ("validation", 2000, 1454.4),
    ]  # fmt: skip


def test_a_clock_that_restarted_at_zero_continues_from_the_stage_s_last_record(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path, [
        {"t": 100.0, "stage": "stage2", "step": 500, "loss": 1.0},
        {"t": 150.0, "stage": "stage2", "step": 750, "loss": 0.9},  # redone after the resume
        {"t": 60.0, "stage": "stage2", "step": 750, "loss": 0.9},
    ])  # fmt: skip
    steps = [(r.get("step"), r["t"]) for r in timeline(log) if "step" in r]
    assert steps == [(500, 100.0), (750, 160.0)]
