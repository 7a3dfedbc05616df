r"""LLaVA-style instruction data from any COCO-format dataset, with LocVLM's objectives.

    locvlm data instruct --coco D/annotations.json --images D --codec ivb --out train.jsonl

Each image gets `turns_per_image` questions drawn from the objective mix (LocPred,
NegPred, RevLoc, contextual region description, spatial VQA, counting, ...), asked and
answered with the task modules' own templates and the chosen coordinate codec, so the
training text is exactly what serving parses. A row:

    {"id": "12", "image": "D/images/000012.png", "width": 128, "height": 128,
     "conversations": [{"from": "human", "value": "<image>\nWhere is the red circle?"},
                       {"from": "gpt", "value": "[12, 40, 30, 58]"}, ...],
     "tasks": ["locpred", ...]}

`sample_turns` is the same draw for one scene, for a trainer that builds turns on the
fly; `caption_rows` writes the stage-1 captions ("a red circle and two blue squares").
"""

from __future__ import annotations

import functools
import math
import random
import re
import string
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from locvlm.coords import Codec, get_codec
from locvlm.data._rows import Row, image_path, to_scene, write_jsonl
from locvlm.data.coco import ImageRecord
from locvlm.data.negatives import STRATEGIES, NegativeSampler
from locvlm.model.prompt_format import IMAGE_TOKEN
from locvlm.tasks import TASKS, Scene, Turn, caption

__all__ = [
    "ASKS_ABSENT",
    "DEFAULT_MIX",
    "InstructConfig",
    "build_conversations",
    "caption_rows",
    "conversation_row",
    "question_key",
    "sample_turns",
    "to_scene",
    "write_jsonl",
]

DEFAULT_MIX: dict[str, float] = {
    # the paper's three objectives carry most of the weight ...
    "locpred": 0.22,
    "negpred": 0.10,
    "revloc": 0.14,
    # ... then presence (POPE's question), region description and spatial VQA, with and
    # without the "localize, then answer" evidence ...
    "exists": 0.08,
    "region": 0.08,
    "region_plain": 0.04,
    "spatial_yes_no": 0.05,
    "spatial_yes_no_evidence": 0.05,
    "spatial_side": 0.04,
    "spatial_side_evidence": 0.04,
    "spatial_category": 0.03,
    "spatial_category_evidence": 0.03,
    # ... and counting and grounded listing; captions are stage 1's (`caption_rows`).
    "counting": 0.06,
    "detect": 0.04,
}
"""The default objective weights (they sum to 1)."""

ASKS_ABSENT = frozenset({"negpred", "exists", "counting", "detect"})
"""Tasks that ask about absent categories: their negatives come from the sampler."""

_ATTEMPTS_PER_TURN = 4  # draws per wanted turn before an image gives up (duplicates)


@dataclass(frozen=True)
class InstructConfig:
    """How instruction data is drawn. Defaults are the LocVLM stage-2 recipe."""

    # IVB won in the paper; 100 bins write each coordinate as one or two digits.
    codec: dict[str, Any] = field(default_factory=lambda: {"name": "ivb", "bins": 100})
    # Objective weights by task name (see `DEFAULT_MIX`); a weight of 0 leaves a task out.
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    turns_per_image: int = 4  # several questions share one image encoding in training
    negatives: str = "random"  # POPE's strategies: random, popular, adversarial
    seed: int = 0  # image `i` draws from (seed, image id): rows do not depend on order

    def __post_init__(self) -> None:
        if "name" not in self.codec:
            raise ValueError(f"codec needs a 'name', got {self.codec!r}")
        self.make_codec()  # unknown codec or parameters: fail now, not mid-file
        unknown = sorted(set(self.mix) - set(TASKS))
        if unknown:
            known = ", ".join(sorted(TASKS))
            raise ValueError(f"unknown task(s) in mix: {', '.join(unknown)}; known: {known}")
        if any(not math.isfinite(w) or w < 0 for w in self.mix.values()):
            raise ValueError(f"mix weights must be finite and >= 0, got {self.mix}")
        if not any(self.mix.values()):
            raise ValueError("the mix needs at least one task with a positive weight")
        if self.turns_per_image < 1:
            raise ValueError(f"turns_per_image must be at least 1, got {self.turns_per_image}")
        if self.negatives not in STRATEGIES:
            known = ", ".join(STRATEGIES)
            raise ValueError(f"unknown negatives {self.negatives!r}; known: {known}")

    def make_codec(self) -> Codec:
        """The codec named by `codec`, with its parameters."""
        params = {key: value for key, value in self.codec.items() if key != "name"}
        return get_codec(self.codec["name"], **params)

    def with_weights(self, weights: Mapping[str, float]) -> InstructConfig:
        """This config with some mix weights changed (0 leaves a task out)."""
        mix = {**self.mix, **weights}
        return replace(self, mix={name: w for name, w in mix.items() if w != 0})


def _negative_vocabulary(
    scene: Scene, vocabulary: Sequence[str], negatives: NegativeSampler | None
) -> Sequence[str]:
    """The absent categories the sampler offers for `scene`, within `vocabulary`."""
    if negatives is None:
        return vocabulary
    allowed = set(vocabulary)
    # Categories left out of `vocabulary` (an image's crowd regions) count as present.
    present = {*scene.categories, *(c for c in negatives.vocabulary if c not in allowed)}
    return negatives.pool(present)


@functools.cache
def _template_patterns(task: str) -> tuple[re.Pattern[str], ...]:
    def pattern(template: str) -> re.Pattern[str]:
        parts = [re.escape(literal) + (f"(?P<{field}>.+?)" if field else "")
                 for literal, field, _, _ in string.Formatter().parse(template)]  # fmt: skip
        return re.compile("".join(parts))

    return tuple(map(pattern, TASKS[task].templates))


def question_key(task: str, prompt: str) -> tuple[object, ...]:
    """What a question asks, whatever its wording: its templates' first one and the slots.

    `"Where is the cup?"` and `"Find the cup."` have the same key, and so do a spatial
    question with and without evidence; a prompt that fits no template is its own key.
    """
    canonical = TASKS[task].templates[0]
    for pattern in _template_patterns(task):
        found = pattern.fullmatch(prompt)
        if found is not None:
            return canonical, *sorted(found.groupdict().items())
    return canonical, prompt


def sample_turns(
    scene: Scene,
    codec: Codec,
    rng: random.Random,
    vocabulary: Sequence[str],
    config: InstructConfig,
    negatives: NegativeSampler | None = None,
) -> list[Turn[Any]]:
    """Up to `config.turns_per_image` turns about `scene`, tasks drawn by the mix weights.

    A task with no valid question for the scene is dropped for it; a question already
    asked, in any wording (`question_key`), is drawn again. The tasks in `ASKS_ABSENT`
    ask about the absent categories of `negatives` (their strategy's pool), or of
    `vocabulary` without a sampler.
    """
    weights = {name: w for name, w in config.mix.items() if w > 0}
    absent = _negative_vocabulary(scene, vocabulary, negatives)
    turns: list[Turn[Any]] = []
    asked: set[tuple[object, ...]] = set()
    for _ in range(config.turns_per_image * _ATTEMPTS_PER_TURN + len(weights)):
        if len(turns) == config.turns_per_image or not weights:
            break
        (name,) = rng.choices(list(weights), weights=list(weights.values()))
        words = absent if name in ASKS_ABSENT else vocabulary
        turn = TASKS[name].sample(scene, codec, rng, words)
        if turn is None:
            del weights[name]
        elif (key := question_key(name, turn.prompt)) not in asked:
            asked.add(key)
            turns.append(turn)
    return turns


def conversation_row(
    record: ImageRecord, turns: Sequence[Turn[Any]], image_root: str | Path | None = None
) -> Row:
    """The LLaVA-style row of `turns` about `record`'s image (the image token first)."""
    conversations = []
    for index, turn in enumerate(turns):
        question = f"{IMAGE_TOKEN}\n{turn.prompt}" if index == 0 else turn.prompt
        conversations.append({"from": "human", "value": question})
        conversations.append({"from": "gpt", "value": turn.answer})
    return {
        "id": str(record.id),
        "image": image_path(record.file_name, image_root),
        "width": record.width,
        "height": record.height,
        "conversations": conversations,
        "tasks": [turn.task for turn in turns],
    }


def build_conversations(
    records: Iterable[ImageRecord],
    vocabulary: Sequence[str],
    config: InstructConfig,
    negatives: NegativeSampler | None = None,
    *,
    image_root: str | Path | None = None,
    crowds: Mapping[int, Collection[str]] | None = None,
) -> Iterator[Row]:
    """One conversation row per record that has at least one question.

    Without `negatives`, a sampler with `config.negatives` is built from `records`.
    `crowds` maps an image id to categories its crowd regions show: never asked about
    as absent. Row `i` depends only on `config` and record `i`.
    """
    if negatives is None:
        records = list(records)
        negatives = NegativeSampler.from_records(records, vocabulary, config.negatives)
    codec = config.make_codec()
    for record in records:
        rng = random.Random(f"{config.seed}/{record.id}")
        hidden = (crowds or {}).get(record.id, ())
        words = [c for c in vocabulary if c not in hidden] if hidden else vocabulary
        turns = sample_turns(to_scene(record), codec, rng, words, config, negatives)
        if turns:
            yield conversation_row(record, turns, image_root)


def caption_rows(
    records: Iterable[ImageRecord], image_root: str | Path | None = None
) -> Iterator[Row]:
    """Stage-1 rows: the canonical caption request and the caption of each image."""
    task = TASKS[caption.CaptionTask.name]
    for record in records:
        counts = caption.counts(to_scene(record))
        turn = task.turn(caption.prompt(), caption.answer(counts), counts)
        yield conversation_row(record, [turn], image_root)
