import json
import random
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from locvlm.data.shapes import CATEGORIES
from locvlm.model.loading import load_model
from locvlm.model.sidecar import Sidecar
from locvlm.tasks import TASKS
from locvlm.train.config import TrainConfig
from locvlm.train.conversation import conversation
from locvlm.train.trainer import Trainer


def _assert_loss_falls(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> None:
    """25 AdamW steps on one batch at least halve its loss."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_loss_falls_on_a_fixed_batch(tmp_path: Path, micro_config: TrainConfig) -> None:
    trainer = Trainer(micro_config, tmp_path, show_progress=False)
    rng = random.Random(0)
    items = []
    while len(items) < 8:
        image, scene = trainer.stream.next()
        turn = TASKS["locpred"].sample(scene, trainer.codec, rng, CATEGORIES)
        if turn:
            items.append((image, turn.prompt, turn.answer))
    _assert_loss_falls(trainer.model, trainer.encoder.batch(items).as_kwargs())


def test_run_saves_a_loadable_model_with_sidecar(tmp_path: Path, micro_config: TrainConfig) -> None:
    folder = Trainer(micro_config, tmp_path, show_progress=False).run()
    sidecar = Sidecar.read(folder)
    assert sidecar.codec == {"name": "ivb", "bins": 32}
    assert sidecar.image_size == 32
    loaded = load_model(tmp_path)  # a run folder resolves to its model/
    from PIL import Image

    texts = loaded.generate([Image.new("RGB", (50, 40), "white")], ["Where is the red circle?"], 5)
    assert isinstance(texts[0], str)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    stages = {r["stage"] for r in log}
    assert {"stage0", "stage1", "symbolic", "stage2", "validation", "validation_text"} <= stages


def test_resume_continues_where_it_stopped(tmp_path: Path, micro_config: TrainConfig) -> None:
    first = Trainer(micro_config, tmp_path, show_progress=False)
    first.run()
    state = torch.load(tmp_path / "state.pt", weights_only=False)
    assert state["stage"] == 4  # all stages done
    again = Trainer(micro_config, tmp_path, show_progress=False)
    assert again.load_state()
    assert again.stream.index == first.stream.index
    for a, b in zip(again.model.parameters(), first.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_same_seed_same_weights(tmp_path: Path, micro_config: TrainConfig) -> None:
    cfg = replace(
        micro_config,
        stage1=replace(micro_config.stage1, steps=0),
        stage2=replace(micro_config.stage2, steps=2),
    )
    a = Trainer(cfg, tmp_path / "a", show_progress=False)
    a.run()
    b = Trainer(cfg, tmp_path / "b", show_progress=False)
    b.run()
    for x, y in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(x, y)


def test_resume_refuses_another_configuration(tmp_path: Path, micro_config: TrainConfig) -> None:
    Trainer(micro_config, tmp_path, show_progress=False).run()
    changed = replace(micro_config, seed=5)
    with pytest.raises(ValueError, match="another configuration"):
        Trainer(changed, tmp_path, show_progress=False).load_state()


def test_resume_accepts_a_new_time_budget_and_logs_it(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    Trainer(micro_config, tmp_path, show_progress=False).run()
    budgeted = replace(micro_config, time_budget_s=600.0)
    assert Trainer(budgeted, tmp_path, show_progress=False).load_state()
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert {"event": "setting changed", "setting": "time_budget_s", "was": None,
            "now": 600.0}.items() <= records[-1].items()  # fmt: skip


def test_a_paused_run_saves_no_model_and_resumes_to_the_same_weights(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    whole = Trainer(micro_config, tmp_path / "whole", show_progress=False)
    whole.run()
    paused = Trainer(replace(micro_config, pause_at=2), tmp_path / "p", show_progress=False)
    assert paused.run() is None
    assert not (tmp_path / "p" / "model").exists()
    state = torch.load(tmp_path / "p" / "state.pt", weights_only=False)
    assert (state["stage"], state["step"]) == (3, 2)
    records = [json.loads(line) for line in (tmp_path / "p" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r.get("stage") == "validation"] == [2]
    assert {"stage": "stage2", "event": "paused", "step": 2}.items() <= records[-1].items()
    again = Trainer(replace(micro_config, pause_at=2), tmp_path / "p", show_progress=False)
    assert again.load_state()
    assert again.run() is None  # paused again, where it was
    going_on = Trainer(micro_config, tmp_path / "p", show_progress=False)
    assert going_on.load_state()
    assert going_on.run() == tmp_path / "p" / "model"
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, going_on.model.state_dict()[name]), name
    one_thread = Trainer(replace(micro_config, threads=1), tmp_path / "p", show_progress=False)
    assert one_thread.load_state()  # threads may change too (a race's winner takes them all)


def test_tokenizer_is_saved_and_reused(tmp_path: Path, micro_config: TrainConfig) -> None:
    first = Trainer(micro_config, tmp_path, show_progress=False)
    assert (tmp_path / "tokenizer" / "tokenizer.json").exists()
    again = Trainer(micro_config, tmp_path, show_progress=False)
    assert again.tokenizer.get_vocab() == first.tokenizer.get_vocab()


def test_conversations_pack_distinct_questions(tmp_path: Path, micro_config: TrainConfig) -> None:
    trainer = Trainer(micro_config, tmp_path, show_progress=False)
    tasks = list(micro_config.mix)
    weights = list(micro_config.mix.values())
    for _ in range(20):
        _, scene = trainer.stream.next()
        turns = conversation(scene, tasks, weights, 4, trainer.codec, trainer.rng, trainer._asked)
        assert 1 <= len(turns) <= 4
        assert len({q for q, _ in turns}) == len(turns)
    loss, _ = trainer._turn_step(tasks, weights, 3, 4)
    assert torch.isfinite(loss)


def test_hard_absent_vocabulary_keeps_only_confusable_absent_phrases(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    config = replace(micro_config, hard_absent_prob=1.0)
    trainer = Trainer(config, tmp_path, show_progress=False)
    for _ in range(20):
        _, scene = trainer.stream.next()
        vocabulary = trainer._asked(scene)
        absent = [c for c in vocabulary if c not in scene.categories]
        assert absent == scene.confusable(CATEGORIES) or not scene.confusable(CATEGORIES)
        assert set(scene.categories) <= set(vocabulary)


def test_image_tokens_are_rescaled_to_the_word_embeddings(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    trainer = Trainer(micro_config, tmp_path, show_progress=False)
    factor = trainer.rescale_image_tokens(2.0, scenes=8)
    assert factor > 0
    again = trainer.rescale_image_tokens(2.0, scenes=8)  # already there: nothing to do
    assert again == pytest.approx(1.0, rel=1e-4)


def test_a_resumed_run_ends_with_the_same_weights(
    tmp_path: Path, micro_config: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = replace(micro_config, checkpoint_every=2, eval_every=100)
    whole = Trainer(cfg, tmp_path / "whole", show_progress=False)
    whole.run()
    # Run again, keeping the checkpoint written in the middle of stage 2 (step 2 of 4).
    cut = tmp_path / "cut"
    original = Trainer.save_state

    def keep_mid_stage(self: Trainer, stage: int, step: int) -> None:
        original(self, stage, step)
        if (stage, step) == (3, 2):
            (cut / "mid.pt").write_bytes((cut / "state.pt").read_bytes())

    monkeypatch.setattr(Trainer, "save_state", keep_mid_stage)
    Trainer(cfg, cut, show_progress=False).run()
    monkeypatch.undo()
    (cut / "mid.pt").replace(cut / "state.pt")
    state = torch.load(cut / "state.pt", weights_only=False)
    assert state["optimizer"] is not None  # mid-stage: AdamW's moments travel too
    assert state["elapsed_s"] > 0
    state["elapsed_s"] = 1000.0  # as if the first process had trained for 1,000 s
    torch.save(state, cut / "state.pt")
    resumed = Trainer(cfg, cut, show_progress=False)
    assert resumed.load_state()
    assert (resumed.resume.stage, resumed.resume.step) == (3, 2)
    assert time.time() - resumed.started >= 1000.0  # the clock goes on
    lines_before = len((cut / "log.jsonl").read_text().splitlines())
    resumed.run()
    times = [json.loads(line)["t"] for line in (cut / "log.jsonl").read_text().splitlines()]
    assert min(times[lines_before:]) >= 1000.0  # log times go on from it too
    for a, b in zip(resumed.model.parameters(), whole.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_text_stage_learns_scenes_written_as_text(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    trainer = Trainer(micro_config, tmp_path, show_progress=False)
    rng = random.Random(0)
    items = []
    while len(items) < 8:
        _, scene = trainer.stream.next()
        turn = TASKS["counting"].sample(scene, trainer.codec, rng, CATEGORIES)
        if turn:
            items.append((trainer.scene_text(scene), [(turn.prompt, turn.answer)]))
    text = trainer.scene_text(trainer.stream.next()[1])
    assert "[" in text  # boxes, written by the run's codec
    batch = trainer.encoder.text_conversations(items)
    assert batch.pixel_values is None
    assert trainer.encoder.image_id not in batch.input_ids  # the scene text replaces them
    _assert_loss_falls(trainer.model, batch.as_kwargs())


def test_bf16_follows_the_cpu_unless_set(tmp_path: Path, micro_config: TrainConfig) -> None:
    from locvlm.train.loop import native_bf16

    assert Trainer(micro_config, tmp_path / "auto", show_progress=False).bf16 is native_bf16()
    forced = replace(micro_config, bf16=False)
    trainer = Trainer(forced, tmp_path / "off", show_progress=False)
    assert trainer.bf16 is False
    trainer.run()
    log = [json.loads(line) for line in (tmp_path / "off" / "log.jsonl").read_text().splitlines()]
    assert {"event": "start", "bf16": False} in [
        {k: r.get(k) for k in ("event", "bf16")} for r in log
    ]


def test_resume_accepts_another_pick_at_but_not_another_recipe(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    Trainer(micro_config, tmp_path, show_progress=False).run()
    picked_sooner = replace(micro_config, pick_at=micro_config.pick_at - 1, threads=1)
    assert Trainer(picked_sooner, tmp_path, show_progress=False).load_state()
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert {r.get("setting") for r in log if r.get("event") == "setting changed"} >= {"pick_at"}
    with pytest.raises(ValueError, match="another configuration"):
        Trainer(replace(picked_sooner, repeat_prob=0.5), tmp_path, show_progress=False).load_state()


def test_resume_takes_a_setting_added_since_at_its_default(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    Trainer(micro_config, tmp_path, show_progress=False).run()
    state = torch.load(tmp_path / "state.pt", weights_only=False)
    older = json.loads(state["config"])
    del older["stage0_ranks"]  # as saved by a trainer from before the setting existed
    del older["stage2"]["decay"]  # a stage's setting added since, too
    state["config"] = json.dumps(older)
    torch.save(state, tmp_path / "state.pt")
    assert Trainer(micro_config, tmp_path, show_progress=False).load_state()
    with pytest.raises(ValueError, match="another configuration"):  # not at its default
        Trainer(
            replace(micro_config, stage0_ranks=True), tmp_path, show_progress=False
        ).load_state()
    held = replace(micro_config, stage2=replace(micro_config.stage2, decay=0.2))
    with pytest.raises(ValueError, match="another configuration"):
        Trainer(held, tmp_path, show_progress=False).load_state()


def test_stage0_coords_orders_the_value_tokens_and_trains_their_head(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    cfg = replace(micro_config, stage0_coords=True, lm_head_from_embeddings=True,
                  codec={"name": "ivb", "bins": 8},  # the micro vocabulary holds " 0" .. " 7"
                  stage1=replace(micro_config.stage1, steps=0),
                  symbolic=replace(micro_config.symbolic, steps=0),
                  stage2=replace(micro_config.stage2, steps=0))  # fmt: skip
    plain = Trainer(replace(cfg, stage0_coords=False), tmp_path / "plain", show_progress=False)
    trainer = Trainer(cfg, tmp_path / "coords", show_progress=False)
    assert all(len(ids) == 2 for ids in trainer.value_ids)  # "k" and " k": one token each
    table = trainer.model.get_input_embeddings().weight.detach()
    before = plain.model.get_input_embeddings().weight.detach()
    # only the value tokens changed; the rest is the plain run's initialisation
    changed = (table != before).any(1).nonzero().flatten().tolist()
    assert sorted(changed) == sorted(i for ids in trainer.value_ids for i in ids)
    added = [table[ids] - before[ids] for ids in trainer.value_ids]
    assert torch.allclose(added[3][0], added[3][1])  # "3" and " 3" gain the same code
    codes = torch.stack([rows[0] for rows in added])
    for k in range(1, 7):  # each value's code is most like its neighbours'
        similar = torch.nn.functional.cosine_similarity(codes[k], codes, dim=-1)
        assert set(similar.argsort(descending=True)[1:3].tolist()) == {k - 1, k + 1}
    maps = trainer.coords.maps.detach().clone()
    trainer.run()
    assert not torch.equal(trainer.coords.maps, maps)  # the head trained in stage 0
    log = [
        json.loads(line) for line in (tmp_path / "coords" / "log.jsonl").read_text().splitlines()
    ]
    assert any("coord_err_bins" in row for row in log if row.get("stage") == "stage0")
    assert torch.equal(trainer.model.lm_head.weight, trainer.model.get_input_embeddings().weight)
    state = torch.load(tmp_path / "coords" / "state.pt", weights_only=False)
    assert torch.equal(state["coords"]["maps"], trainer.coords.maps)  # it resumes too


def test_stage0_coords_refuses_values_written_as_several_tokens(
    tmp_path: Path, micro_config: TrainConfig
) -> None:
    cfg = replace(micro_config, stage0_coords=True, codec={"name": "ivb", "bins": 1000})
    with pytest.raises(ValueError, match="one token"):
        Trainer(cfg, tmp_path, show_progress=False)
