"""The registry of model-family adapters, and how a checkpoint picks its adapter.

A checkpoint's `locvlm.json` names its adapter (ours: `locvlm`). A stock Hugging Face
checkpoint has none: its `config.json` `model_type` picks the family, and the family's
codec with its default parameters is used. `--adapter` (`LOCVLM_ADAPTER`) overrides both.
"""

from __future__ import annotations

import json
from pathlib import Path

from locvlm.adapters.base import Adapter
from locvlm.adapters.florence2 import Florence2Adapter
from locvlm.adapters.kosmos2 import Kosmos2Adapter
from locvlm.adapters.locvlm import LocVLMAdapter
from locvlm.adapters.paligemma import PaliGemmaAdapter
from locvlm.adapters.qwen2_5_vl import Qwen25VLAdapter
from locvlm.adapters.qwen2_vl import Qwen2VLAdapter
from locvlm.adapters.qwen3_vl import Qwen3VLAdapter
from locvlm.model.sidecar import SIDECAR, Sidecar

__all__ = ["ADAPTERS", "get_adapter", "read_sidecar"]

ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        LocVLMAdapter,
        Qwen2VLAdapter,
        Qwen25VLAdapter,
        Qwen3VLAdapter,
        PaliGemmaAdapter,
        Florence2Adapter,
        Kosmos2Adapter,
    )
}


def _adapter_class(name: str) -> type[Adapter]:
    try:
        return ADAPTERS[name]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"unknown adapter {name!r}; known: {known}") from None


def get_adapter(sidecar: Sidecar) -> Adapter:
    """The adapter `sidecar` names, built with its codec parameters and vocabulary.

    Raises:
        ValueError: an unknown adapter name.
    """
    return _adapter_class(sidecar.adapter)(sidecar)


def read_sidecar(folder: str | Path, adapter: str | None = None) -> Sidecar:
    """The served model's sidecar: `locvlm.json`, or one made from `config.json`.

    `adapter` overrides the family the files name (the codec becomes that family's,
    unless the sidecar's codec already is). No torch is imported.

    Raises:
        FileNotFoundError: neither file is there.
        ValueError: a malformed file, an unknown adapter, or a `model_type` no adapter
            serves (the message says how to pick one).
    """
    folder = Path(folder)
    if (folder / SIDECAR).exists():
        sidecar = Sidecar.read(folder)
    else:
        sidecar = _stock_sidecar(folder, adapter)
    if adapter is None or adapter == sidecar.adapter:
        return sidecar
    cls = _adapter_class(adapter)
    return sidecar.replace(adapter=adapter, codec=cls.stock_codec(folder))


def _stock_sidecar(folder: Path, adapter: str | None) -> Sidecar:
    """A sidecar for a stock checkpoint, from `config.json`'s `model_type`."""
    path = folder / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"no model checkpoint (config.json) in {folder}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: malformed ({exc})") from None
    model_type = str(config.get("model_type", ""))
    if adapter is not None:
        cls = _adapter_class(adapter)
    else:
        matches = [c for c in ADAPTERS.values() if model_type in c.model_types]
        if not matches:
            known = ", ".join(sorted(t for c in ADAPTERS.values() for t in c.model_types))
            raise ValueError(
                f"{folder}: no adapter serves model_type {model_type!r} (known: {known}); "
                "pick one with --adapter"
            )
        cls = matches[0]
    vision = config.get("vision_config") or {}
    side = vision.get("image_size") if isinstance(vision, dict) else None
    return Sidecar(
        codec=cls.stock_codec(folder),
        preset=model_type or cls.name,
        image_size=int(side) if isinstance(side, int) and cls is LocVLMAdapter else 0,
        adapter=cls.name,
        templates_version=0,  # not trained on our templates
    )
