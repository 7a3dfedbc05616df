"""VLLMEngine on the real vLLM CPU build, serving the barely trained tiny-shapes export.

Runs in the vLLM venv, as it imports vllm in-process:
    LOCVLM_VLLM_TIER=1 .venv-vllm/bin/python -m pytest -m vllm tests/vllm/test_vllm_engine.py
"""

import asyncio
import importlib.util
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest

from locvlm.coords import get_codec
from locvlm.data.shapes import render_scene
from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineDeadError
from locvlm.engines.vllm_engine import VLLMEngine
from locvlm.tasks import locpred

# The first test's setup may train the session's tiny export (minutes on a busy 2-core
# box) before starting vLLM: more than the suite's 300 s per test.
pytestmark = [pytest.mark.vllm, pytest.mark.anyio, pytest.mark.timeout(600)]

if importlib.util.find_spec("vllm") is None:  # fail loudly: a skip would pass the tier
    pytest.fail("vllm is not importable: run the tier with .venv-vllm/bin/python -m pytest")

CONCURRENCY = 16
LONG = 400  # tokens a request is forced to decode in the cancellation test


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope: the engine and its tests share one event loop


@pytest.fixture(scope="module")
def config(tiny_shapes_export: Path) -> Iterator[EngineConfig]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VLLM_TARGET_DEVICE", "cpu")  # read by the CPU build; the GPU one ignores it
        env.setenv("HF_HUB_OFFLINE", "1")
        yield EngineConfig(
            kind="vllm",
            model=str(tiny_shapes_export),
            max_model_len=512,
            max_new_tokens=LONG,
            max_num_seqs=CONCURRENCY,
            gpu_memory_utilization=0.15,  # of host RAM on the CPU build: ~2.6 GiB here
        )


@pytest.fixture(scope="module")
async def engine(config: EngineConfig) -> AsyncIterator[VLLMEngine]:
    engine = await VLLMEngine.create(config)
    yield engine
    await engine.shutdown()


def grounding(seed: int, **kw: object) -> GenerationRequest:
    """A LocPred question about the first object of a shapes scene."""
    image, objects = render_scene(seed)
    return GenerationRequest(image, locpred.prompt(objects[0].category), **kw)  # type: ignore[arg-type]


def descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def engine_processes() -> list[psutil.Process]:
    """vLLM's engine core and workers (not multiprocessing's resource tracker)."""
    return [p for p in descendants() if "resource_tracker" not in " ".join(p.cmdline())]


async def test_generates_text_and_counts_tokens(engine: VLLMEngine) -> None:
    assert engine.ready
    assert not engine.errored
    [result] = await engine.generate([grounding(0, max_new_tokens=24)])
    assert result.text
    assert result.prompt_tokens > 16  # the question and the image's patch tokens
    assert 0 < result.completion_tokens <= 24
    assert result.finish_reason in ("stop", "length")


async def test_concurrent_requests_are_batched(engine: VLLMEngine) -> None:
    requests = [grounding(i, max_new_tokens=32) for i in range(CONCURRENCY)]
    start = time.perf_counter()
    for r in requests:
        await engine.generate([r])
    sequential = time.perf_counter() - start

    batches: list[float] = []

    async def watch() -> None:
        while True:
            batches.append(engine.stats().details["batch"])
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    results = await engine.generate(requests)
    together = time.perf_counter() - start
    watcher.cancel()
    assert len(results) == CONCURRENCY
    assert all(r.completion_tokens > 0 for r in results)
    assert max(batches) >= CONCURRENCY // 2, f"largest decoding batch seen: {max(batches)}"
    # ~8x on an idle machine; the margin absorbs a busy CI box
    assert together * 1.5 < sequential, f"16 at once {together:.2f}s, one by one {sequential:.2f}s"


async def test_constrained_output_always_parses(engine: VLLMEngine) -> None:
    codec = get_codec(**engine.sidecar.codec)
    side = engine.sidecar.image_size
    constraint = Constraint(regex=codec.regex)
    plain = [grounding(100 + i, max_new_tokens=48) for i in range(CONCURRENCY)]
    bound = [
        grounding(100 + i, max_new_tokens=48, constraint=constraint) for i in range(CONCURRENCY)
    ]
    free, constrained = await asyncio.gather(engine.generate(plain), engine.generate(bound))
    unparsed = [r.text for r in constrained if locpred.parse(r.text, codec, (side, side)) is None]
    assert not unparsed
    # The barely trained model writes malformed answers on its own: the constraint mattered.
    malformed = [r.text for r in free if locpred.parse(r.text, codec, (side, side)) is None]
    assert malformed, "every unconstrained answer parsed: the test shows nothing"


async def test_cancelling_the_caller_stops_decoding(engine: VLLMEngine) -> None:
    endless = Constraint(regex="[a-z ]{2000}")  # never complete: each request decodes LONG tokens
    requests = [grounding(200 + i, max_new_tokens=LONG, constraint=endless) for i in range(8)]

    def tokens() -> float:
        return engine.stats().details["generation_tokens"]

    before = tokens()
    task = asyncio.create_task(engine.generate(requests))
    start = time.perf_counter()
    while tokens() - before < 8 * 10:  # every request is decoding
        assert time.perf_counter() - start < 60, "the long requests never started"
        await asyncio.sleep(0.05)
    rate = (tokens() - before) / (time.perf_counter() - start)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)  # the aborts reach the engine core
    assert engine.stats().running == engine.stats().queued == 0
    frozen = tokens()
    await asyncio.sleep(1.0)
    assert tokens() == frozen, f"decoding went on after the cancel (it ran at {rate:.0f} tok/s)"
    assert frozen - before < 8 * LONG  # the requests were cut short, not finished
    [after] = await engine.generate([grounding(0, max_new_tokens=8)])
    assert after.completion_tokens > 0  # the engine still serves


async def test_shutdown_leaves_no_process(engine: VLLMEngine) -> None:
    children = engine_processes()
    assert children, "the engine core should run in a child process"
    await engine.shutdown()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"left running: {[p.name() for p in alive]}"
    assert not engine_processes()
    assert not engine.ready
    with pytest.raises(EngineDeadError):
        await engine.generate([grounding(0)])
    await engine.shutdown()  # idempotent


async def test_a_dead_engine_core_flips_readiness(config: EngineConfig) -> None:
    engine = await VLLMEngine.create(config)
    try:
        assert engine.ready
        children = engine_processes()
        [core] = [p for p in children if "EngineCore" in p.name()]
        os.kill(core.pid, signal.SIGKILL)
        start = time.perf_counter()
        while not engine.errored:
            assert time.perf_counter() - start < 20, "the dead engine core went unnoticed"
            await asyncio.sleep(0.1)
        assert not engine.ready
        with pytest.raises(EngineDeadError):
            await engine.generate([grounding(0, max_new_tokens=8)])
    finally:
        await engine.shutdown()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"left running after the crash: {[p.name() for p in alive]}"
