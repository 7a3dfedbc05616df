"""A base for the tests' scripted engines: stand-ins for a model whose answers a test
writes itself (`generate`), always ready, built by the test rather than from a config.

    class Oracle(ScriptedEngine):
        async def generate(self, requests): ...
"""

from __future__ import annotations

from locvlm.engines.base import Engine
from locvlm.engines.config import EngineConfig
from locvlm.model.sidecar import Sidecar

__all__ = ["ScriptedEngine"]


class ScriptedEngine(Engine):
    """Ready, nothing to shut down; `generate` is the subclass's."""

    name = "scripted"

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar

    @property
    def ready(self) -> bool:
        return True

    async def shutdown(self) -> None:
        pass

    @classmethod
    async def create(cls, config: EngineConfig) -> Engine:
        raise NotImplementedError("a scripted engine is built by its test")
