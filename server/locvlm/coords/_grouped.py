"""Families that write all their boxes inside one container: `[box;box]`, `[{..}, {..}]`.

For these, `encode` wraps the joined boxes once, and `box_regex` / `regex` include the
container, so one box's text and its regex still match each other exactly.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from locvlm.coords.base import Codec
from locvlm_client import Box, SizeLike

__all__ = ["GroupedCodec"]


@dataclass(frozen=True)
class GroupedCodec(Codec):
    """`opener box separator box ... closer`; `encode_quad` writes one inner box."""

    opener: ClassVar[str]
    closer: ClassVar[str]

    @property
    @abstractmethod
    def item_regex(self) -> str:
        """Regular expression of one inner box, without the container."""

    def encode(self, boxes: Sequence[Box], image_size: SizeLike) -> str:
        """Write `boxes` inside one container; no boxes give an empty string.

        Raises:
            ValueError: on a bad image size, a non-`Box` item or a box outside the image.
        """
        inner = super().encode(boxes, image_size)
        return f"{self.opener}{inner}{self.closer}" if len(boxes) else ""

    @property
    def box_regex(self) -> str:
        return re.escape(self.opener) + self.item_regex + re.escape(self.closer)

    @property
    def regex(self) -> str:
        item, sep = self.item_regex, re.escape(self.separator)
        return f"{re.escape(self.opener)}{item}(?:{sep}{item})*{re.escape(self.closer)}"
