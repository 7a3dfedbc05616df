"""`locvlm.json`: what the server must know about a checkpoint besides its weights.

The model family (its adapter), the codec and its parameters (how coordinates are
written), the input resolution, the prompt order, the task-template version, whether the
API reads the scene from its listing of every object, and the training recipe and data.
Plain JSON: finding a checkpoint and reading its sidecar needs no torch, so the HTTP
process (whose engine runs in a child) reads it without loading a model library.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from locvlm.model.config import ModelPreset

__all__ = ["DEFAULT_MODEL", "SIDECAR", "TEMPLATES_VERSION", "Sidecar", "resolve_model_dir"]

SIDECAR = "locvlm.json"
"""File name of the sidecar: codec, input resolution, task-template version, data."""

TEMPLATES_VERSION = 1
"""Bumped whenever a task's wording changes, so old checkpoints are recognised."""

DEFAULT_MODEL = Path(__file__).parent / "default"
"""The checkpoint shipped inside the package (`locvlm serve` with no --model)."""


def resolve_model_dir(name: str | Path) -> Path:
    """`default` -> the shipped checkpoint; a training run folder -> its `model/`.

    Raises:
        FileNotFoundError: when no checkpoint is there.
    """
    path = DEFAULT_MODEL if str(name) == "default" else Path(name)
    if (path / "model" / "config.json").exists():
        path = path / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no model checkpoint (config.json) in {path}")
    return path


@dataclass(frozen=True)
class Sidecar:
    """The contents of `locvlm.json`."""

    codec: dict[str, Any]
    preset: str
    image_size: int  # the square input side; 0: the family's processor resizes
    image_first: bool = True  # the presets' order (`ModelPreset.image_first`)
    spatial_evidence: bool = False
    templates_version: int = TEMPLATES_VERSION
    vocabulary: list[str] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    adapter: str = "locvlm"  # the model family (`locvlm.adapters`); ours by default
    listing: bool = False
    """Whether the API reads the scene from the checkpoint's listing of every object (the
    detect task, asked once an image): `/v1/ground` takes each phrase's boxes from it,
    `/v1/describe` each region's relation to another listed object. Checkpoints trained
    on the detect task are written with it on: the shipped one grounds and relates
    better from its listing than from its answers to each phrase or region
    (`docs/results.md`, "Reading the scene from the listing")."""
    grounds_from: Literal["listing", "answer"] = "listing"
    """With `listing` on, where `/v1/ground`'s boxes start. "listing": the listed boxes of
    each phrase, its own answer asked only as a second look where the listing names none
    (`tasks.detect.grounded`). "answer": the phrase's own answer, checked against the
    listing asked in the same call (`tasks.detect.checked`): for a checkpoint whose own
    answers ground better than its listing (`docs/results.md`, "runs/k2")."""

    grounds_in_tiles: bool = False
    """With `grounds_from` "answer": a non-square image's phrases are read from the
    detection in tiles of every object (`serving.detect.detected` with three square crops
    of it, `tasks.tiles.listed`), so objects keep their shape and size (`docs/results.md`,
    "Detection in square tiles"; before, each phrase was asked on the crops: "Square
    tiles of non-square images")."""

    detects_in_tiles: bool = False
    """`/v1/detect` of a non-square image lists the objects of three square crops of it
    too (`tasks.tiles.listed`): a crop's object is kept where the whole image's listing
    or second look, or the crop's own answer about its category, has it (`docs/results.md`,
    "Detection in square tiles")."""

    def __post_init__(self) -> None:
        if self.grounds_from not in ("listing", "answer"):
            raise ValueError(f'grounds_from is "listing" or "answer", not {self.grounds_from!r}')

    def replace(self, **changes: Any) -> Sidecar:
        """A copy with `changes` (dataclass fields by name)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def for_training(cls, preset: ModelPreset, codec: dict[str, Any], config: Any) -> Sidecar:
        """The sidecar of a model trained from `preset` with a `TrainConfig`."""
        from locvlm.data.shapes import CATEGORIES

        return cls(
            codec=dict(codec),
            preset=preset.name,
            image_size=preset.vision.image_size,
            image_first=preset.image_first,
            spatial_evidence=bool(config.spatial_evidence),
            vocabulary=list(CATEGORIES),
            listing=config.mix.get("detect", 0) > 0,
            training={
                "data": "shapes world v1, generated on the fly",
                **json.loads(config.to_json()),
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    def write(self, folder: str | Path) -> Path:
        """Write `locvlm.json` into `folder`."""
        path = Path(folder) / SIDECAR
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: str | Path) -> Sidecar:
        """Read `locvlm.json` from a model folder.

        Raises:
            FileNotFoundError: the folder has no sidecar (not a locvlm checkpoint).
            ValueError: the sidecar is malformed.
        """
        path = Path(folder) / SIDECAR
        if not path.exists():
            raise FileNotFoundError(f"{path}: no {SIDECAR}; is {folder} a locvlm checkpoint?")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: malformed sidecar ({exc})") from None
