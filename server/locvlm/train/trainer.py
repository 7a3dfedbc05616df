"""The training recipe: vision, projector, the LM on scenes as text, then everything.

Stage 0 trains vision, stage 1 the projector on captions, the text-only stage the LM on
scenes written as text (when it has steps), and stage 2 everything on every task.

    locvlm train --preset tiny-shapes --out runs/tiny [--steps N] [--codec ivb] [--config F]

Data are drawn on the fly from the shapes world, deterministically from the seed; the
run writes `log.jsonl`, a resumable `state.pt`, and the trained model in `model/`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from locvlm.coords import get_codec
from locvlm.model.build import build_model, build_processor, image_stats
from locvlm.model.config import get_preset
from locvlm.model.inputs import Encoder, pixels
from locvlm.model.sidecar import Sidecar
from locvlm.model.tokenizer import build_tokenizer, task_corpus
from locvlm.tasks import Scene, detect
from locvlm.train.config import TrainConfig
from locvlm.train.conversation import conversation
from locvlm.train.loop import Log, StageRunner, native_bf16
from locvlm.train.scenes import SceneStream
from locvlm.train.stage import Stage
from locvlm.train.stage0 import CoordHead, DenseHeads, WordHead, ordered_codes, stage0_loss
from locvlm.train.validate import validate, validation_set

__all__ = ["Trainer"]

VALIDATION_SEED = 999_983  # never a training seed: held-out scenes
# settings a resumed run may change; `pick_at` is read only by a race, never by a run
MAY_CHANGE = ("time_budget_s", "pause_at", "threads", "pick_at")


@dataclass
class _Resume:
    stage: int = 0
    step: int = 0


def _added_at_default(saved: dict[str, Any], now: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Fill into `saved` the settings added since it was written, at any depth.

    Only where `now` has them at their default: what the saved run had, before they existed.
    """
    for key, value in now.items():
        if key not in saved:
            if value == defaults.get(key):
                saved[key] = value
        elif isinstance(value, dict) and isinstance(saved[key], dict):
            _added_at_default(saved[key], value, defaults.get(key) or {})


class Trainer:
    """Builds the model from the preset and runs the stages; resumable from `state.pt`."""

    def __init__(self, config: TrainConfig, out: str | Path, show_progress: bool = True) -> None:
        self.config, self.out, self.show = config, Path(out), show_progress
        self.out.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(config.threads)
        self.preset = get_preset(config.preset, **dict(config.model))
        self.codec = get_codec(**(config.codec or self.preset.codec))
        self.tokenizer = self._tokenizer()
        self.model = build_model(self.preset, self.tokenizer, config.seed)
        self.processor = build_processor(self.preset, self.tokenizer)
        mean, std = image_stats()
        v = self.preset.vision
        self.encoder = Encoder(self.tokenizer, self.preset.image_tokens, v.image_size, mean, std,
                               self.preset.image_first)  # fmt: skip
        self.stream = SceneStream(
            seed=config.seed,
            confusable_prob=config.confusable_prob,
            repeat_prob=config.repeat_prob,
        )
        self.vocabulary = self.stream.vocabulary  # the categories the world draws
        bins = int(self.codec.config.get("bins", 32))
        self.heads = DenseHeads(v.hidden, bins, self.vocabulary, config.stage0_ranks)
        phrases = [self.tokenizer(" " + c, add_special_tokens=False).input_ids
                   for c in self.vocabulary]  # fmt: skip
        self.words = WordHead(phrases, self.preset.text.hidden)
        self.value_ids = [[i for s in (str(k), f" {k}")  # value k's tokens: "k", then " k"
                           for i in self.tokenizer(s, add_special_tokens=False).input_ids]
                          for k in range(bins)]  # fmt: skip
        self.coords = CoordHead(self.value_ids, self.preset.text.hidden, config.seed)
        if config.stage0_coords:
            self._order_value_embeddings()
        self.rng = random.Random(config.seed)
        self.log = Log(self.out / "log.jsonl")
        self.bf16 = native_bf16() if config.bf16 is None else config.bf16
        self.resume = _Resume()
        self.runner: StageRunner | None = None  # the stage running now (its optimizer)
        self.optimizer_state: dict[str, Any] | None = None  # to restore on resume
        self.started = time.time()
        self.val_items = validation_set(
            list(config.mix), self.codec, config.eval_per_task, VALIDATION_SEED, self.vocabulary
        )
        self.stages = self._stages()

    def _tokenizer(self) -> PreTrainedTokenizerFast:
        """The run's tokenizer: trained once, saved in the run, reloaded on resume."""
        folder = self.out / "tokenizer"
        if (folder / "tokenizer.json").exists():
            loaded = AutoTokenizer.from_pretrained(folder)
            assert isinstance(loaded, PreTrainedTokenizerFast)
            return loaded
        corpus = list(task_corpus(self.codec, self.config.tokenizer_scenes, self.config.seed))
        tokenizer = build_tokenizer(self.codec, self.preset.vocab_size, corpus)
        tokenizer.save_pretrained(folder)
        return tokenizer

    # --- stages -------------------------------------------------------------------
    def _stages(self) -> list[Stage]:
        """The recipe: vision pre-training, the projector on captions, then everything."""
        c, m = self.config, self.model.model
        vision: list[torch.nn.Module] = [m.vision_tower, self.heads]
        if c.stage0_words or c.stage0_coords:
            vision += [m.multi_modal_projector, m.language_model.embed_tokens]
        vision += [self.words] if c.stage0_words else []
        vision += [self.coords] if c.stage0_coords else []
        lm = [m.multi_modal_projector, m.language_model, self.model.lm_head]
        if not c.freeze_vision:
            lm.append(m.vision_tower)
        tasks, weights = list(c.mix), list(c.mix.values())
        return [
            Stage("stage0", c.stage0, lambda: vision, self._stage0_step,
                  on_end=self._after_vision),
            Stage("stage1", c.stage1, lambda: [m.multi_modal_projector],
                  lambda: self._turn_step(["caption"], [1.0], c.stage1.batch_size, 1)),
            Stage("symbolic", c.symbolic,
                  lambda: [m.language_model, self.model.lm_head],
                  lambda: self._text_step(tasks, weights, c.symbolic.batch_size, c.turns_per_image),
                  on_step=self._after_text_step,
                  on_end=lambda: self._validate_text(c.symbolic.steps)),
            Stage("stage2", c.stage2, lambda: lm,
                  lambda: self._turn_step(tasks, weights, c.stage2.batch_size, c.turns_per_image),
                  budgeted=True, on_start=self._set_objects, on_step=self._after_lm_step),
        ]  # fmt: skip

    def _after_vision(self) -> None:
        if self.config.image_token_norm:
            self.rescale_image_tokens(self.config.image_token_norm)
        if self.config.lm_head_from_embeddings:
            with torch.no_grad():
                self.model.lm_head.weight.copy_(self._input_embeddings().weight)
            self.log.write(stage="stage0", event="lm_head set to the input embeddings")

    @torch.no_grad()
    def _order_value_embeddings(self) -> None:
        """Give each coordinate value's tokens an embedding in which order is linear.

        The rows keep their own random part (`"k"` and `" k"` stay apart) and gain
        `ordered_codes` at the embeddings' mean norm.

        Raises:
            ValueError: the tokenizer writes some value as several tokens.
        """
        if any(len(ids) != 2 for ids in self.value_ids):
            raise ValueError("stage0_coords needs every coordinate value to be one token")
        table = self._input_embeddings().weight
        norm = float(table.norm(dim=-1).mean())
        codes = ordered_codes(len(self.value_ids), table.shape[1], norm, self.config.seed)
        for ids, code in zip(self.value_ids, codes, strict=True):
            table[ids] += code

    def _input_embeddings(self) -> torch.nn.Embedding:
        """The LM's input embedding table."""
        words = self.model.get_input_embeddings()
        assert isinstance(words, torch.nn.Embedding)
        return words

    def _set_objects(self, step: int) -> None:
        """The curriculum: most objects per scene at stage-2 `step`."""
        self.stream.max_objects = self._objects_at(step)

    def _after_lm_step(self, step: int) -> None:
        self._set_objects(step)
        ends = (self.config.stage2.steps, self.config.pause_at)
        if step % self.config.eval_every == 0 or step in ends:
            self.validate(step)

    def _after_text_step(self, step: int) -> None:
        if step % self.config.eval_every == 0 and step < self.config.symbolic.steps:
            self._validate_text(step)

    def _validate_text(self, step: int) -> None:
        if self.config.symbolic.steps > 0:
            self.validate(step, text=True)

    def scene_text(self, scene: Scene) -> str:
        """A scene written as text: every object with its box, in reading order.

        The text-only stage gives the LM this in place of the image tokens.
        """
        return detect.listing(scene.ordered, self.codec, scene.size)

    def _stage0_step(self) -> tuple[torch.Tensor, dict[str, float]]:
        scenes = [self.stream.next() for _ in range(self.config.stage0.batch_size)]
        v = self.preset.vision
        px = pixels([im for im, _ in scenes], v.image_size, self.encoder.mean, self.encoder.std)
        out = self.model.model.vision_tower(px, output_hidden_states=True)
        feats = out.hidden_states[-1][:, 1:]
        word_logits = coord_logits = None
        if self.config.stage0_words or self.config.stage0_coords:
            projected = self.model.model.multi_modal_projector(feats)
            embeddings = self._input_embeddings().weight
            if self.config.stage0_words:
                word_logits = self.words(projected, embeddings)
            if self.config.stage0_coords:
                coord_logits = self.coords(projected, embeddings)
        grid = v.image_size // v.patch_size
        return stage0_loss(self.heads, feats, [s for _, s in scenes], grid, word_logits,
                           coord_logits)  # fmt: skip

    def _asked(self, scene: Scene) -> Sequence[str]:
        """The categories a turn may ask about as absent: sometimes only confusable ones."""
        p = self.config.hard_absent_prob
        if p and self.rng.random() < p and (hard := scene.confusable(self.vocabulary)):
            return [*scene.categories, *hard]
        return self.vocabulary

    def _conversations(
        self, tasks: list[str], weights: list[float], count: int, turns: int
    ) -> list[tuple[Image.Image, Scene, list[tuple[str, str]]]]:
        """The next `count` scenes that have a conversation, with it."""
        items: list[tuple[Image.Image, Scene, list[tuple[str, str]]]] = []
        while len(items) < count:
            image, scene = self.stream.next()
            said = conversation(scene, tasks, weights, turns, self.codec, self.rng, self._asked)
            if said:
                items.append((image, scene, said))
        return items

    def _turn_step(
        self, tasks: list[str], weights: list[float], images: int, turns: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        items = self._conversations(tasks, weights, images, turns)
        batch = self.encoder.conversations([(image, said) for image, _, said in items])
        return self.model(**batch.as_kwargs()).loss, {}

    def _text_step(
        self, tasks: list[str], weights: list[float], scenes: int, turns: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        items = self._conversations(tasks, weights, scenes, turns)
        batch = self.encoder.text_conversations(
            [(self.scene_text(scene), said) for _, scene, said in items]
        )
        return self.model(**batch.as_kwargs()).loss, {}

    def _run_stage(self, index: int) -> bool:
        """Run (or resume) stage `index`; False when it paused (`pause_at`) before its end."""
        stage = self.stages[index]
        if stage.config.steps <= 0:
            return True
        params = stage.train_only(self.model)
        deadline = None
        if stage.budgeted and self.config.time_budget_s:
            deadline = self.started + self.config.time_budget_s
        runner = StageRunner(stage.name, stage.config, params, self.log, self.show, deadline,
                             self.bf16)  # fmt: skip
        start = self.resume.step if self.resume.stage == index else 0
        if start and self.optimizer_state is not None:
            assert runner.optimizer is not None
            runner.optimizer.load_state_dict(self.optimizer_state)
        self.runner = runner
        stage.on_start(start)
        until = self.config.pause_at if stage.budgeted else None
        done = runner.run(stage.step, start, every=lambda s: self._after_step(index, s),
                          until=until)  # fmt: skip
        if until is not None and done == until < stage.config.steps:
            self.save_state(index, done)
            self.log.write(stage=stage.name, event="paused", step=done)
            return False
        self.log.write(stage=stage.name, event="done",
                       elapsed_s=round(time.time() - self.started, 1))  # fmt: skip
        return True

    def _objects_at(self, step: int) -> int:
        """Most objects per scene at stage-2 `step`: 1 at first, 5 after the curriculum."""
        ramp = self.config.curriculum_steps
        full = SceneStream.max_objects
        if ramp <= 0 or step >= ramp:
            return full
        return 1 + (full - 1) * step // ramp

    def _after_step(self, index: int, step: int) -> None:
        stage = self.stages[index]
        if step % self.config.checkpoint_every == 0 and step < stage.config.steps:
            self.save_state(index, step)
        stage.on_step(step)

    # --- public -------------------------------------------------------------------
    def validate(self, step: int, text: bool = False) -> dict[str, float]:
        """Score the held-out validation turns now, log and return the scores.

        With `text`, the scenes are given as text (`scene_text`), not as images.
        """
        scores = validate(self.model, self.encoder, self.codec, self.val_items, self.vocabulary,
                          scene_text=self.scene_text if text else None)  # fmt: skip
        name = "validation_text" if text else "validation"
        self.log.write(stage=name, step=step, **{k: round(v, 3) for k, v in scores.items()})
        return scores

    def run(self) -> Path | None:
        """Run (or resume) every stage and save the model; returns the model folder.

        With `pause_at`, stage 2 stops at that step with the state saved, and there is no
        model yet (None): resuming without `pause_at` goes on from there.
        """
        self.model.train()
        self.log.write(stage="run", event="start", bf16=self.bf16, threads=self.config.threads,
                       resume_stage=self.resume.stage, resume_step=self.resume.step)  # fmt: skip
        for index in range(self.resume.stage, len(self.stages)):
            if not self._run_stage(index):
                return None
            if (end := self.stages[index].on_end) is not None:
                end()
            self.save_state(index + 1, 0)
        return self.save_model()

    @torch.no_grad()
    def rescale_image_tokens(self, ratio: float, scenes: int = 64) -> float:
        """Scale the projector's output so image tokens are `ratio` x word embeddings.

        The frozen tower's features (and so the projected patches) come out of stage 0
        ~100x larger than the LM's word embeddings; in the residual stream the LM's
        layers then cannot change an image token (it cannot mark the patches the question
        asks about). The last linear layer is scaled, so nothing else changes (the word
        head's cosine is scale-free). Returns the factor applied.
        """
        stream = SceneStream(seed=VALIDATION_SEED + 1)
        images = [stream.next()[0] for _ in range(scenes)]
        v = self.preset.vision
        px = pixels(images, v.image_size, self.encoder.mean, self.encoder.std)
        m = self.model.model
        feats = m.vision_tower(px, output_hidden_states=True).hidden_states[-1][:, 1:]
        now = m.multi_modal_projector(feats).norm(dim=-1).mean()
        target = ratio * self._input_embeddings().weight.norm(dim=-1).mean()
        factor = float(target / now)
        last = m.multi_modal_projector.linear_2
        last.weight.mul_(factor)
        last.bias.mul_(factor)
        self.log.write(stage="stage0", event="image tokens rescaled", factor=round(factor, 5))
        return factor

    def sidecar(self) -> Sidecar:
        """What the server needs to know about this model besides its weights."""
        return Sidecar.for_training(self.preset, self.codec.config, self.config)

    def save_model(self) -> Path:
        """Save model, processor (with tokenizer and chat template) and sidecar."""
        folder = self.out / "model"
        self.model.save_pretrained(folder)
        self.processor.save_pretrained(folder)
        self.sidecar().write(folder)
        return folder

    def save_state(self, stage: int, step: int) -> None:
        """Everything needed to resume at (stage, step)."""
        state: dict[str, Any] = {
            "stage": stage, "step": step, "model": self.model.state_dict(),
            "heads": self.heads.state_dict(), "words": self.words.state_dict(),
            "coords": self.coords.state_dict(),
            "stream": self.stream.index,
            "rng": self.rng.getstate(), "torch_rng": torch.get_rng_state(),
            "config": self.config.to_json(), "optimizer": None,
            "elapsed_s": time.time() - self.started,
        }  # fmt: skip
        if step and self.runner is not None and self.runner.optimizer is not None:
            state["optimizer"] = self.runner.optimizer.state_dict()  # mid-stage: AdamW moments
        tmp = self.out / "state.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(self.out / "state.pt")

    def _check_resumable(self, saved_json: str) -> None:
        """The saved run's configuration must be this one, but for `MAY_CHANGE`.

        A new `time_budget_s` only ends stage 2 sooner, the learning rate decaying by the
        clock, so that a run that will not finish in the time it has left still ends
        annealed; `pause_at` and `threads` change where it stops and how fast it goes (a
        race's winner goes on alone on all threads); `pick_at` only tells a race when to
        choose, so runs can enter a race that picks sooner. Each change is logged. A setting
        added to the recipe after the run started is accepted at its default, which is
        what the run had.
        """
        saved, now = json.loads(saved_json), json.loads(self.config.to_json())
        defaults = json.loads(TrainConfig().to_json())
        _added_at_default(saved, now, defaults)
        free = dict.fromkeys(MAY_CHANGE)
        if {**saved, **free} != {**now, **free}:
            raise ValueError(f"{self.out} was started with another configuration; "
                             "resume with the same settings or use a new --out")  # fmt: skip
        for key in MAY_CHANGE:
            if saved.get(key) != now[key]:
                self.log.write(event="setting changed", setting=key, was=saved.get(key),
                               now=now[key])  # fmt: skip

    def load_state(self) -> bool:
        """Resume from `state.pt` if present; returns whether it was.

        Raises:
            ValueError: the run was started with a different configuration.
        """
        path = self.out / "state.pt"
        if not path.exists():
            return False
        state = torch.load(path, weights_only=False)
        self._check_resumable(state["config"])
        self.model.load_state_dict(state["model"])
        self.heads.load_state_dict(state["heads"])
        self.words.load_state_dict(state["words"])
        if "coords" in state:  # saved by a trainer from before the head existed: unused
            self.coords.load_state_dict(state["coords"])
        self.stream.index = state["stream"]
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.resume = _Resume(state["stage"], state["step"])
        self.optimizer_state = state.get("optimizer")
        # The clock (log times, the time budget) goes on from the checkpoint: work done
        # after it and lost with the interrupted process is not counted.
        self.started = self.log.started = time.time() - state.get("elapsed_s", 0.0)
        return True
