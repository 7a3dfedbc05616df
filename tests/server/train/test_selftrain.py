"""A whole self-training round on the shipped model, small: label, fine-tune, save, measure."""

import json
from pathlib import Path

from PIL import Image

from locvlm.model.loading import greedy, load_model
from locvlm.train.selftrain import SelfTrainConfig, SelfTrainer


def test_a_round_labels_fine_tunes_saves_and_measures(tmp_path: Path) -> None:
    config = SelfTrainConfig(scenes=8, rounds=1, steps=2, batch_size=2, turns=2, eval_per_task=2,
                             threads=1)  # fmt: skip
    report = SelfTrainer.from_model("default", config, tmp_path).run()
    before, after = report["rounds"]
    assert set(before["scores"]) >= set(report["tasks"])
    labels = after["labels"]
    assert 0 < labels["complete_scenes"] <= labels["scenes"] == 8
    assert labels["kept"] <= labels["listed"]
    assert set(after["scores"]) == set(before["scores"])
    saved = load_model(after["model"])  # the round's model loads and answers
    assert json.loads((tmp_path / "round-1" / "locvlm.json").read_text())["training"][
        "selftrain_round"] == 1  # fmt: skip
    image = Image.new("RGB", (64, 64), "white")
    assert greedy(saved.model, saved.encoder, [image], ["How many red circles are there?"], 4)
    assert "| round |" in (tmp_path / "report.md").read_text()
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert any(r.get("stage") == "selftrain-1" for r in logged)  # the fine-tuning steps
