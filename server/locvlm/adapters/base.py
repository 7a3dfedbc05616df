"""The adapter contract: what serving must know about a model family to answer with boxes.

A model family differs from another in three ways: the prompt each task needs, the
text its boxes are written in (its codec), and the coordinate space of those boxes
(the codec's parameters and rule). An adapter holds all three for one family, plus the
chat format the engines wrap a question in and the tasks the family cannot do:

    adapter = get_adapter(sidecar)
    question = adapter.ground("red circle", image.size)   # text and answer pattern
    ...the engine answers question.text, rendered with adapter.render...
    boxes = adapter.read_ground(answer_text, "red circle", image.size)

Adapters import no torch: the HTTP process, the engines' children and the tests read
them alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal

from PIL import Image

from locvlm.coords import Codec, get_codec
from locvlm.engines.errors import InvalidInputError
from locvlm.model.sidecar import Sidecar
from locvlm.tasks._plural import singular
from locvlm.tasks._text import normalize
from locvlm.tasks.base import Obj
from locvlm.tasks.locpred import is_absent
from locvlm.tasks.tiles import Crop
from locvlm_client import Box, SizeLike

__all__ = [
    "SERVING_TASKS",
    "Adapter",
    "Described",
    "Found",
    "Question",
    "ServingTask",
    "UnsupportedTaskError",
]

ServingTask = Literal["ground", "detect", "describe", "spatial"]
SERVING_TASKS: tuple[ServingTask, ...] = ("ground", "detect", "describe", "spatial")
"""The structured endpoints an adapter may support (chat is free text: every family)."""


class UnsupportedTaskError(InvalidInputError):
    """The served model's family cannot do the task asked of it (a 400 for the caller)."""


@dataclass(frozen=True)
class Question:
    """One question for the engine: the instruction and the pattern its answer must match.

    `text` is the user turn only; the engine wraps it in the family's chat format
    (`Adapter.render`). `regex` None: the answer is not constrained.
    """

    text: str
    regex: str | None = None


@dataclass(frozen=True)
class Found:
    """A box the model wrote with the label it gave it (None: the format has none)."""

    label: str | None
    box: Box


@dataclass(frozen=True)
class Described:
    """A region description: its category (None when unknown), text, and form.

    `parsed`: the answer had the form the family writes.
    """

    label: str | None
    text: str
    parsed: bool = True


class Adapter(ABC):
    """One model family: its prompts, codec, coordinate rule, chat format and tasks.

    Built from a checkpoint's `Sidecar` (read from `locvlm.json`, or made from
    `config.json` for a stock checkpoint): the sidecar's codec parameters and
    vocabulary override the family's defaults.
    """

    name: ClassVar[str]
    """The registry name, as `locvlm.json`'s `adapter` and `--adapter` write it."""
    title: ClassVar[str]
    """The family as its authors name it (docs and `/v1/models`)."""
    model_types: ClassVar[tuple[str, ...]] = ()
    """`config.json` `model_type` values of the family's stock checkpoints."""
    codec_name: ClassVar[str]
    """The codec of the family's box text."""
    tasks: ClassVar[frozenset[ServingTask]] = frozenset(SERVING_TASKS)
    """The structured tasks the family can do; the others answer 400."""
    vllm: ClassVar[bool] = True
    """Whether vLLM serves the family's architecture."""
    native_spatial: ClassVar[bool] = False
    """Whether the family answers spatial questions itself. When False, spatial questions
    are answered by localize-then-reason: the named objects are grounded and the answer
    is computed from their boxes."""

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar

    @property
    def reads_listing(self) -> bool:
        """Whether the scene is read from one listing of every object (not here).

        Then `ground` asks the same listing question for every phrase, and a description
        in context takes its relation from the listing (`serving.describe`).
        """
        return False

    @classmethod
    def stock_codec(cls, folder: Path) -> dict[str, Any]:
        """The codec config of a stock checkpoint in `folder`.

        The family's codec by default; a family whose coordinate space depends on its
        processor's settings reads them from the folder.
        """
        return {"name": cls.codec_name}

    # --- what every family shares ---------------------------------------------------
    @cached_property
    def codec(self) -> Codec:
        """The codec, with the checkpoint's parameters (built once)."""
        params = dict(self.sidecar.codec) or {"name": self.codec_name}
        return get_codec(**params)

    @property
    def vocabulary(self) -> list[str]:
        """The categories the model knows (empty: open vocabulary)."""
        return list(self.sidecar.vocabulary)

    def known(self, phrase: str) -> str | None:
        """The category `phrase` names, or None when the model cannot know it.

        With a vocabulary, the phrase normalized (case, punctuation, leading article,
        plural) must be one of its entries; with none (open vocabulary) any phrase is
        known as it is.
        """
        if not self.vocabulary:
            return phrase
        name = normalize(phrase)
        for candidate in (name, singular(name)):
            if candidate in self.vocabulary:
                return candidate
        return None

    def unknown_warning(self, phrase: str) -> str:
        """What a caller is told about a phrase outside the vocabulary."""
        return f"{phrase!r} is not a category this model knows (see /v1/models): not asked"

    def require(self, task: ServingTask) -> None:
        """Refuse a task the family cannot do.

        Raises:
            UnsupportedTaskError: `task` is not among `tasks`.
        """
        if task not in self.tasks:
            can = ", ".join(t for t in SERVING_TASKS if t in self.tasks) or "none"
            raise UnsupportedTaskError(
                f"{self.title} models cannot do {task}; this model serves: {can}"
            )

    def prepare(self, image: Image.Image) -> Image.Image:
        """The image as the engine should get it: RGB, decoded; the processor resizes.

        Raises:
            OSError: the image does not decode.
        """
        image.load()
        return image if image.mode == "RGB" else image.convert("RGB")

    # --- what each family writes ----------------------------------------------------
    def render(self, question: str) -> str:
        """The model input text for one question about one image (its chat format).

        Up to where the answer starts, with the family's image placeholder if the
        processor does not add it. By default the text as it is: the families prompted
        with task text (PaliGemma, Florence-2, Kosmos-2) have processors that add the
        image tokens themselves.
        """
        return question

    @abstractmethod
    def ground(self, phrase: str, size: SizeLike) -> Question:
        """The question that grounds `phrase` (every instance)."""

    def read_ground(self, text: str, phrase: str, size: SizeLike) -> list[Box] | None:
        """The boxes an answer to `ground` gives, in pixels of `size`; [] for "none".

        None: the text is neither boxes nor an explicit absence. The default reads every
        box the codec finds; an answer that `says_none` is an absence.
        """
        boxes = self.codec.decode(text, size)
        if boxes:
            return boxes
        return [] if self.says_none(text) else None

    def second_look(self, phrase: str, size: SizeLike) -> Question | None:
        """The question asked again about a phrase its listing names none of (or None).

        For a checkpoint read from its listing (`reads_listing`): the phrase's own
        question. None: the family takes no second look.
        """
        return None

    def read_second_look(self, text: str, listed: Sequence[Obj], size: SizeLike) -> list[Box]:
        """The boxes an answer to `second_look` adds to a listing that named none of it.

        `listed` is that listing as `read_listing` reads it (read once an image); [] when
        the answer adds none (its boxes are all on listed objects: `tasks.detect.grounded`).
        """
        return []

    def grounding_check(self, size: SizeLike) -> Question | None:
        """The question asked once an image beside each phrase's own, to check it (or None).

        For a checkpoint whose own answers are checked against its listing
        (`Sidecar.grounds_from` "answer"): the listing. None: the family checks nothing.
        """
        return None

    def ground_crops(self, size: SizeLike) -> tuple[Crop, ...]:
        """The crops of an image of `size` whose detection in tiles grounds its phrases.

        Each phrase's boxes are then those `/v1/detect` finds of its category, with these
        crops listed beside the whole (`serving.detect.detected`). Empty (the default):
        each phrase is asked about the whole image.
        """
        return ()

    def detect_crops(self, size: SizeLike) -> tuple[Crop, ...]:
        """The crops of an image of `size` listed too, beside the whole (`tasks.tiles.listed`).

        Empty (the default): the whole image's listing stands alone.
        """
        return ()

    def read_checked(
        self, text: str, listed: Sequence[Obj], phrase: str, size: SizeLike
    ) -> list[Box] | None:
        """An answer to `ground` checked against the `grounding_check` answer, as read.

        `listed` is that answer as `read_listing` reads it. By default `read_ground`'s.
        """
        return self.read_ground(text, phrase, size)

    def says_none(self, text: str) -> bool:
        """Whether `text` says there is nothing: empty, or "There is no ..." in words."""
        return not text.strip() or is_absent(text)

    def detect(self, categories: Sequence[str], size: SizeLike) -> Question:
        """The question that lists every object (of `categories`, or of any kind).

        Raises:
            UnsupportedTaskError: the family cannot detect.
        """
        self.require("detect")
        raise NotImplementedError  # a family that detects overrides this

    def read_detect(self, text: str, size: SizeLike) -> list[Found] | None:
        """The labelled boxes of an answer to `detect`; None when it does not parse."""
        found = [Found(b.label, b.box) for b in self.codec.decode_labeled(text, size)]
        if found:
            return found
        return [] if self.says_none(text) else None

    def look_again(self, category: str, size: SizeLike) -> Question | None:
        """The question asked about `category` beside a listing, for what it missed (or None).

        `/v1/detect`'s second look (`tasks.detect.completed`). None: the family's
        listing stands alone.
        """
        return None

    def read_look_again(self, text: str, size: SizeLike) -> list[Box]:
        """The boxes of an answer to `look_again`; [] when it says none or does not parse."""
        return []

    def read_listing(self, text: str, size: SizeLike) -> list[Obj] | None:
        """An answer to `detect` as the tasks read a scene (a box without a label: "")."""
        found = self.read_detect(text, size)
        return None if found is None else [Obj(f.label or "", f.box) for f in found]

    def describe(self, box: Box, size: SizeLike, context: bool) -> Question:
        """The question that describes the region `box` (in context: with a relation).

        Raises:
            UnsupportedTaskError: the family cannot describe regions.
        """
        self.require("describe")
        raise NotImplementedError  # a family that describes overrides this

    def read_describe(self, text: str, size: SizeLike) -> Described:
        """The description in an answer to `describe`: the text as it came, no label."""
        said = " ".join(text.split())
        return Described(None, said, parsed=bool(said))
