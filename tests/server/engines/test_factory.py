"""Engine selection: named engines, `auto`'s fallback and its logged reason, clear errors."""

import importlib.util
import logging
import threading
from dataclasses import replace

import pytest

from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineUnavailableError
from locvlm.engines.factory import ENGINES, engine_class, engine_names, open_engine
from locvlm.engines.process_engine import ProcessEngine
from locvlm.engines.transformers_engine import TransformersEngine

# The first test here builds `tiny_shapes_export` (a minute on two idle cores, five
# while a training run shares them): more than the suite's 300 s default.
pytestmark = pytest.mark.timeout(900)

NO_VLLM = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is not None, reason="vllm is installed here"
)


def _worker_threads() -> int:
    return sum(t.name.startswith("locvlm-transformers") for t in threading.enumerate())


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("in_child", "kind"),
    [(True, ProcessEngine), (False, TransformersEngine)],  # the default: in a child process
)
async def test_transformers_is_built_and_shut_down(
    tiny_config: EngineConfig, in_child: bool, kind: type
):
    async with open_engine(replace(tiny_config, child_process=in_child)) as engine:
        assert isinstance(engine, kind)
        assert engine.ready
    assert not engine.ready
    assert _worker_threads() == 0


@NO_VLLM
@pytest.mark.anyio
async def test_auto_falls_back_to_transformers_and_says_why(
    tiny_config: EngineConfig, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="locvlm.engines")
    async with open_engine(replace(tiny_config, kind="auto")) as engine:
        assert engine.name == "transformers-process"  # the default: in a child process
    reasons = [r.getMessage() for r in caplog.records if r.name == "locvlm.engines"]
    assert any("using transformers" in m and "'vllm' package" in m for m in reasons), reasons


@NO_VLLM
@pytest.mark.anyio
async def test_vllm_without_the_package_is_a_clear_error(tiny_config: EngineConfig):
    with pytest.raises(EngineUnavailableError, match=r"needs the 'vllm' package.*install"):
        async with open_engine(replace(tiny_config, kind="vllm")):
            pytest.fail("no engine without vllm")
    assert _worker_threads() == 0


def test_a_missing_engine_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(ENGINES, "remote", ("locvlm.engines.no_such_engine", "Nope", None))
    with pytest.raises(EngineUnavailableError, match="remote engine is not available"):
        engine_class("remote")


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("transformers", "TransformersEngine"),  # the base install's engine
        ("remote", "RemoteEngine"),  # httpx only: always importable
    ],
)
def test_engine_classes_are_found_by_kind(kind: str, name: str):
    assert engine_class(kind).__name__ == name


def test_the_child_process_is_a_placement_not_an_engine():
    assert engine_class("transformers", in_child=True) is ProcessEngine
    assert engine_class("remote", in_child=True).__name__ == "RemoteEngine"  # has no child
    assert engine_names() == ("auto", *ENGINES)
    assert not any("process" in name for name in engine_names())


@pytest.mark.anyio
async def test_an_unknown_engine_kind_is_refused():
    with pytest.raises(ValueError, match="unknown engine 'tgi'") as caught:
        engine_class("tgi")
    assert str(caught.value).endswith("known: auto, vllm, transformers, remote")
    with pytest.raises(ValueError, match="unknown engine"):
        async with open_engine(EngineConfig(kind="tgi")):
            pytest.fail("no engine of an unknown kind")
