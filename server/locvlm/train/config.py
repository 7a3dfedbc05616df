"""Training configuration: frozen dataclasses, overridable from a JSON/YAML file or the CLI."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from locvlm.tasks.spatial import evidence_form

__all__ = ["StageConfig", "TrainConfig", "apply_overrides", "default_mix"]


@dataclass(frozen=True)
class StageConfig:
    """One training stage's schedule."""

    steps: int
    lr: float
    batch_size: int = 32
    warmup: int = 50  # linear warm-up steps, then cosine decay to 10%
    decay: float = 1.0  # the last share of the steps over which the decay runs; below 1
    # the peak is held until then (warm-up, stable, decay)

    def __post_init__(self) -> None:
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"decay is a share of the steps in (0, 1], not {self.decay}")


def default_mix(evidence: bool = True) -> dict[str, float]:
    """Stage-2 objective weights: the paper's LocPred/NegPred/RevLoc plus the rest."""
    return {
        "locpred": 3.0,  # grounding: the core objective and the hardest to learn
        "negpred": 1.0,  # absent phrase -> "There is no ..." (hallucination)
        "exists": 1.0,  # POPE-style yes/no
        "revloc": 1.5,
        "region": 1.5,  # contextual description
        evidence_form("spatial_yes_no", evidence): 1.0,
        evidence_form("spatial_side", evidence): 1.0,
        evidence_form("spatial_category", evidence): 0.5,
        "counting": 1.0,
        "detect": 1.0,
    }


@dataclass(frozen=True)
class TrainConfig:
    """The whole recipe: stage 0, stage 1, the text-only stage, stage 2.

    Stage 0 trains vision, stage 1 the projector on captions, the text-only stage the LM
    on scenes written as text, and stage 2 everything on every task.
    """

    preset: str = "tiny-shapes"
    model: dict[str, Any] = field(default_factory=dict)  # preset overrides (ablations, tests)
    tokenizer_scenes: int = 3000  # scenes whose task texts train the BPE tokenizer
    seed: int = 0  # scenes, initialisation and task sampling all derive from it
    threads: int = 2  # torch.set_num_threads: the machine's two cores
    stage0: StageConfig = StageConfig(steps=1500, lr=3e-3, batch_size=64, warmup=50)
    # (16 px patches learn their box edges slower than 8 px ones: 0.72 vs 0.47 bins at 600)
    stage1: StageConfig = StageConfig(steps=100, lr=1e-3, batch_size=32, warmup=10)
    symbolic: StageConfig = StageConfig(steps=0, lr=1e-3, batch_size=32, warmup=50)
    # before stage 2, the LM alone on every task with the scene written as text instead of
    # pixels ("red circle [3, 10, 9, 16]; ..."): selecting, comparing and counting learnt
    # without vision compute (0: skipped)
    stage2: StageConfig = StageConfig(steps=12000, lr=1e-3, batch_size=16, warmup=100)
    stage0_words: bool = True  # tie projected patches to the LM's category word embeddings
    stage0_ranks: bool = False  # stage 0 also learns each patch's object's place in reading
    # order (overall and within its category): what listing several instances needs
    stage0_coords: bool = False  # number tokens get ordered embeddings, and stage 0 ties
    # projected patches (one linear map per edge) to the embeddings of their box's values
    lm_head_from_embeddings: bool = False  # after stage 0 the output head starts as a copy
    # of the input embeddings, so a token the LM reads is one it can write
    image_token_norm: float | None = 1.0  # after stage 0: projected patches' mean norm, in
    # units of the LM's mean word-embedding norm (None: leave them ~100x larger)
    confusable_prob: float = 0.5  # training scenes: chance that an object shares its color
    # or shape with another (the shipped model of session 3 bound color, not shape)
    repeat_prob: float = 0.25  # training scenes: chance that a new object repeats a present
    # category, the contract's default (0.35 in r8 grounded worse: docs/results.md)
    hard_absent_prob: float = 0.5  # absent phrases drawn from those sharing a word with a
    # present category, so "no" must come from the shape or color that differs
    bf16: bool | None = None  # bf16 autocast, fp32 weights; None: where the CPU has bf16
    # instructions (AMX / AVX512-BF16: 7% faster steps). Without them (AVX2) it is emulated,
    # and a stage-2 step took 12 s instead of 0.8 s (docs/results.md)
    curriculum_steps: int = 0  # stage-2 steps over which scenes grow from 1 to 5 objects
    turns_per_image: int = 4  # stage-2 questions packed per image (batch_size = images)
    freeze_vision: bool = True  # stage 0 already localizes; frozen steps are ~20% cheaper
    spatial_evidence: bool = True  # spatial answers state both boxes first
    mix: dict[str, float] = field(default_factory=default_mix)
    codec: dict[str, Any] | None = None  # None: the preset's codec
    eval_every: int = 1000  # stage-2 steps between validations
    eval_per_task: int = 30
    checkpoint_every: int = 500
    time_budget_s: float | None = None  # stage 2 ends when the run's clock reaches it, its
    # learning rate decaying by the clock too (a resumed run may change it)
    seeds: int = 1  # > 1: seeds `seed`, `seed` + 1, ... raced, the best kept (train/race.py)
    pick_at: int = 6000  # the stage-2 step at which a race keeps its best seed
    pause_at: int | None = None  # stage 2 stops at this step with its state saved and no
    # model (a race's entrants); a resumed run may change it, and `threads`

    def to_json(self) -> str:
        """The config as JSON (for the checkpoint and the model card)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def _coerce(current: Any, value: Any) -> Any:
    if is_dataclass(current) and isinstance(value, dict):
        fields_ = {k: _coerce(getattr(current, k), v) for k, v in value.items()}
        return replace(current, **fields_)  # type: ignore[type-var]
    if isinstance(current, float) and isinstance(value, int | str):
        return float(value)
    if isinstance(current, int) and not isinstance(current, bool) and isinstance(value, str):
        return int(value)
    if isinstance(current, bool) and isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return value


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Replace fields from a nested dict; dotted keys (`stage2.steps`) reach inside stages.

    Raises:
        ValueError: for an unknown field.
    """
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        nested.setdefault(head, {} if rest else value)
        if rest:
            nested[head][rest] = value
    known = {f.name for f in fields(TrainConfig)}
    if unknown := set(nested) - known:
        raise ValueError(f"unknown training settings {sorted(unknown)}; known: {sorted(known)}")
    for name, value in nested.items():
        sub = getattr(config, name)
        if is_dataclass(sub) and isinstance(value, dict):
            bad = set(value) - {f.name for f in fields(sub)}
            if bad:
                raise ValueError(f"unknown settings {sorted(bad)} in {name}")
    result: TrainConfig = _coerce(config, nested)
    return result


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Overrides from a JSON or YAML file."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        return dict(yaml.safe_load(text) or {})
    return dict(json.loads(text))
