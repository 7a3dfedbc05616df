"""LocVLM checkpoints: ours, and LLaVA-1.5-class models fine-tuned with textual coordinates.

Every task's wording is the Task API's (`locvlm.tasks`): the prompts a checkpoint was
trained on, with the codec its `locvlm.json` names (nfp, ivb, diga, ...). The chat format
is LLaVA-1.5's (`model.prompt_format`). Images are squashed to the model's square input,
so normalized coordinates hold for every aspect. The only family that answers spatial
questions itself (with evidence boxes when the checkpoint was trained to write them).

A stock `llava` checkpoint without `locvlm.json` (the paper's LocVLM release) is served
with the codec in `--adapter`'s defaults (nfp) and an open vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.adapters.base import Adapter, Described, Found, Question
from locvlm.model.image import square
from locvlm.model.prompt_format import prompt
from locvlm.tasks import TASKS, Obj, detect, region, tiles
from locvlm.tasks.tiles import Crop
from locvlm_client import Box, SizeLike

__all__ = ["LocVLMAdapter"]


class LocVLMAdapter(Adapter):
    """Our checkpoints: the Task API's prompts, LLaVA-1.5's chat, a square input."""

    name = "locvlm"
    title = "LocVLM (LLaVA-1.5)"
    model_types = ("llava",)
    codec_name = "nfp"
    native_spatial = True

    def render(self, question: str) -> str:
        """`USER: <image>` newline `{question} ASSISTANT:` (or the image after it)."""
        return prompt(question, self.sidecar.image_first)

    def prepare(self, image: Image.Image) -> Image.Image:
        """Squashed to the model's square input (`model.image.square`)."""
        return square(image, self.sidecar.image_size)

    @property
    def reads_listing(self) -> bool:
        """The checkpoint's listing is read (`Sidecar.listing`; needs a vocabulary)."""
        return self.sidecar.listing and bool(self.vocabulary)

    @property
    def grounds_from_listing(self) -> bool:
        """Phrase boxes are the listing's (`Sidecar.grounds_from` "listing")."""
        return self.reads_listing and self.sidecar.grounds_from == "listing"

    def ground(self, phrase: str, size: SizeLike) -> Question:
        """LocPred's question: boxes, or NegPred's "There is no ...".

        A checkpoint that grounds from its listing is asked the detect task's "List every
        object." instead: the same question for every phrase, asked once an image.
        """
        if self.grounds_from_listing:
            return self.detect([], size)
        return self._locpred(phrase, size)

    def grounding_check(self, size: SizeLike) -> Question | None:
        """The listing, for a checkpoint whose own answers it checks (else None)."""
        if self.reads_listing and not self.grounds_from_listing:
            return self.detect([], size)
        return None

    def read_checked(
        self, text: str, listed: Sequence[Obj], phrase: str, size: SizeLike
    ) -> list[Box] | None:
        """LocPred's boxes checked against the listing (`detect.checked`).

        An own answer that cannot be read takes the listing's boxes of the phrase.
        """
        found = TASKS["locpred"].read(text, self.codec, size)
        return list(detect.checked(listed, phrase, () if found is None else found.boxes))

    def ground_crops(self, size: SizeLike) -> tuple[Crop, ...]:
        """Square crops of a non-square image (`tasks.tiles.crops`), or none.

        For a checkpoint whose own answers are checked against its listing and that
        grounds in tiles (`Sidecar.grounds_in_tiles`): its phrases are read from the
        detection in tiles of every object.
        """
        if self.sidecar.grounds_in_tiles and self.grounding_check(size) is not None:
            return tiles.crops(size)
        return ()

    def detect_crops(self, size: SizeLike) -> tuple[Crop, ...]:
        """Square crops of a non-square image (`tasks.tiles.crops`), or none.

        For a checkpoint that detects in tiles (`Sidecar.detects_in_tiles`).
        """
        return tiles.crops(size) if self.sidecar.detects_in_tiles else ()

    def _locpred(self, phrase: str, size: SizeLike) -> Question:
        task, args = TASKS["locpred"], {"phrase": phrase}
        return Question(
            task.prompt(args, self.codec, size), task.constraint(args, self.codec, self.vocabulary)
        )

    def read_ground(self, text: str, phrase: str, size: SizeLike) -> list[Box] | None:
        """LocPred's reader: boxes, [] for the absent answer, None for neither.

        From a listing: the boxes it labels `phrase`, [] when none, None when it is no listing.
        """
        if self.grounds_from_listing:
            listed = TASKS["detect"].read(text, self.codec, size)
            return None if listed is None else list(detect.instances(listed, phrase))
        found = TASKS["locpred"].read(text, self.codec, size)
        return None if found is None else list(found.boxes)

    def second_look(self, phrase: str, size: SizeLike) -> Question | None:
        """LocPred's question, for a checkpoint read from its listing (else None)."""
        return self._locpred(phrase, size) if self.grounds_from_listing else None

    def read_second_look(self, text: str, listed: Sequence[Obj], size: SizeLike) -> list[Box]:
        """The own answer's boxes where the listing has no object (`detect.outside`)."""
        own = TASKS["locpred"].read(text, self.codec, size)
        return [] if own is None else list(detect.outside(own.boxes, [o.box for o in listed]))

    def detect(self, categories: Sequence[str], size: SizeLike) -> Question:
        """The detect task's question, listing only the known categories."""
        task, args = TASKS["detect"], {"categories": list(categories)}
        return Question(
            task.prompt(args, self.codec, size), task.constraint(args, self.codec, self.vocabulary)
        )

    def read_detect(self, text: str, size: SizeLike) -> list[Found] | None:
        """`category box; category box` (or "nothing"), as the detect task reads it."""
        found = TASKS["detect"].read(text, self.codec, size)
        return None if found is None else [Found(o.category, o.box) for o in found]

    def look_again(self, category: str, size: SizeLike) -> Question | None:
        """LocPred's question about `category`: its own boxes, or "There is no ..."."""
        return self._locpred(category, size)

    def read_look_again(self, text: str, size: SizeLike) -> list[Box]:
        """LocPred's boxes ([] for the absent answer or an unreadable one)."""
        own = TASKS["locpred"].read(text, self.codec, size)
        return [] if own is None else list(own.boxes)

    def describe(self, box: Box, size: SizeLike, context: bool) -> Question:
        """In context the region task's question, else RevLoc's ("What is at [box]?").

        RevLoc is one of the paper's objectives, in every mix we train; the plain region
        question is not in the default one, and names the region's object less often
        right (held-out, before the listing was read too: k2 0.952 against RevLoc's
        0.975, s13k 0.789 against 0.839; `docs/results.md`).
        """
        task, args = TASKS["region" if context else "revloc"], {"box": box}
        return Question(
            task.prompt(args, self.codec, size), task.constraint(args, self.codec, self.vocabulary)
        )

    def read_describe(self, text: str, size: SizeLike) -> Described:
        """The category, and the canonical sentence with the relation when one was said."""
        said = TASKS["region"].read(text, self.codec, size)
        if said is None:
            return Described(None, text.strip(), parsed=False)
        return Described(said.category, region.answer(said.category, said.relation, said.other))
