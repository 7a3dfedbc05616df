"""The transformers engine in a child process, on the real tiny-shapes export.

Same answers as in-process, batching and cancellation across the pipe, errors that keep
their type, a child that dies or gets a terminal's Ctrl+C, and a clean shutdown.
"""

import asyncio
import io
import os
import signal
import time
from dataclasses import replace

import pytest
from PIL import Image

from locvlm.data.shapes import ShapesConfig, render_scene
from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineDeadError, InvalidInputError, PromptTooLongError
from locvlm.engines.factory import open_engine
from locvlm.engines.process_engine import ProcessEngine
from locvlm.engines.transformers_engine import TransformersEngine
from locvlm.tasks import counting, exists, locpred
from tests.server.engines.conftest import until

pytestmark = pytest.mark.timeout(900)  # the first test may build `tiny_shapes_export`

ENDLESS = Constraint(regex="[a-z]{2000}")  # rows run to their token limit


def _requests(n: int) -> list[GenerationRequest]:
    """Questions of three tasks on scenes of random sizes and aspects."""
    out = []
    for i in range(n):
        image, objects = render_scene(seed=(21, i), config=ShapesConfig(size=None))
        category = objects[0].category
        question = [locpred.prompt(category), exists.exists_prompt(category),
                    counting.prompt(category)][i % 3]  # fmt: skip
        out.append(GenerationRequest(image, question, 12))
    return out


@pytest.mark.anyio
async def test_answers_equal_the_in_process_engine(tiny_config: EngineConfig) -> None:
    requests = _requests(6)
    async with TransformersEngine.open(tiny_config) as engine:
        expected = [(await engine.generate([r]))[0] for r in requests]
        sidecar = engine.sidecar
    # a quiet wait long enough that six requests sent at once cross the pipe into one batch
    # on a loaded machine too (the default 5 ms split them in two under a CI run)
    child = replace(tiny_config, child_process=True, batch_wait_ms=200)
    async with open_engine(child) as engine:
        assert isinstance(engine, ProcessEngine)
        assert engine.sidecar == sidecar  # the child's, read back over the pipe
        got = [(await engine.generate([r]))[0] for r in requests]
        batched = await asyncio.gather(*(engine.generate([r]) for r in requests))
        stats = engine.stats()
    assert got == expected  # text, token counts and finish reason, one request at a time
    assert all(len(b) == 1 and b[0].text for b in batched)
    assert stats.finished == 12
    assert stats.details["batches"] == 6 + 1  # the six sent together were one batch


@pytest.mark.anyio
async def test_the_batching_hint_crosses_the_pipe(tiny_config: EngineConfig) -> None:
    """A request saying one more is coming holds the child's batch open past its quiet
    wait (20 ms) for a request sent 60 ms later (see the in-process engine's test)."""
    [request] = _requests(1)
    settings = replace(tiny_config, child_process=True, batch_wait_ms=20)
    async with open_engine(settings) as engine:
        await engine.generate([request])  # warm up
        first = asyncio.create_task(engine.generate([replace(request, coming=1)]))
        await asyncio.sleep(0.06)
        await engine.generate([request])
        await first
        stats = engine.stats()
    assert stats.details["batches"] == 1 + 1


@pytest.mark.anyio
async def test_errors_keep_their_type_and_fail_only_their_request(tiny_config: EngineConfig):
    [request] = _requests(1)
    encoded = io.BytesIO()
    request.image.save(encoded, "PNG")
    truncated = Image.open(io.BytesIO(encoded.getvalue()[:200]))
    async with ProcessEngine.open(tiny_config) as engine:
        with pytest.raises(OSError, match="truncated"):
            await engine.generate([GenerationRequest(truncated, request.question, 4)])
        with pytest.raises(PromptTooLongError, match="context"):
            await engine.generate([GenerationRequest(request.image, "Where? " * 400, 8)])
        with pytest.raises(InvalidInputError, match="parenthesis is not closed"):
            await engine.check_constraint(Constraint(regex="(a"))  # asked of the child
        await engine.check_constraint(Constraint(choices=("yes", "no")))
        assert await engine.generate([]) == []
        [answer] = await engine.generate([request])
        assert answer.completion_tokens >= 1
        assert engine.ready
    with pytest.raises(FileNotFoundError):
        await ProcessEngine.create(replace(tiny_config, model="/nonexistent"))


@pytest.mark.anyio
async def test_cancelling_the_caller_frees_the_childs_work(tiny_config: EngineConfig) -> None:
    [request] = _requests(1)
    long = GenerationRequest(request.image, request.question, 400, ENDLESS)
    short = GenerationRequest(request.image, request.question, 1)
    async with ProcessEngine.open(tiny_config) as engine:
        start = time.perf_counter()
        await engine.generate([long])
        whole = time.perf_counter() - start
        task = asyncio.create_task(engine.generate([long]))
        await asyncio.sleep(whole / 10)
        task.cancel()
        start = time.perf_counter()
        await engine.generate([short])  # waits for the worker, which the cancel freed
        freed = time.perf_counter() - start
        stats = engine.stats()
    assert task.cancelled()
    assert stats.details["stopped_cancelled"] == 1, stats
    assert stats.details["completion_tokens"] < 2 * 400, stats
    assert freed < whole / 2, (freed, whole)


@pytest.mark.anyio
async def test_counters_of_cancelled_work_arrive_without_an_answer(tiny_config: EngineConfig):
    """No answer comes for a cancelled call; its counters still reach /readyz and /metrics."""
    [request] = _requests(1)
    long = GenerationRequest(request.image, request.question, 400, ENDLESS)
    async with ProcessEngine.open(tiny_config) as engine:
        task = asyncio.create_task(engine.generate([long]))
        await until(lambda: engine.stats().running == 1)
        await asyncio.sleep(0.2)
        task.cancel()
        await until(lambda: engine.stats().details["stopped_cancelled"] == 1)
        stats = engine.stats()
    assert (stats.queued, stats.running, stats.finished) == (0, 0, 0)
    assert 0 < stats.details["completion_tokens"] < 400


@pytest.mark.anyio
async def test_ctrl_c_reaches_the_parent_only(tiny_config: EngineConfig) -> None:
    [request] = _requests(1)
    async with ProcessEngine.open(tiny_config) as engine:
        pid = engine._process.pid
        assert pid is not None
        os.kill(pid, signal.SIGINT)  # what a terminal sends the whole process group
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert (await engine.generate([request]))[0].completion_tokens >= 1
        assert engine.ready
    assert not engine._process.is_alive()  # stopped by its parent, not by the signals
    assert engine._process.exitcode == 0


@pytest.mark.anyio
async def test_a_dead_child_fails_its_callers_and_readiness(tiny_config: EngineConfig) -> None:
    [request] = _requests(1)
    long = GenerationRequest(request.image, request.question, 150, ENDLESS)
    engine = await ProcessEngine.create(tiny_config)
    try:
        waiting = asyncio.create_task(engine.generate([long]))
        await until(lambda: engine.stats().queued + engine.stats().running == 1)
        pid = engine._process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the fault: the child is gone (OOM killer, a crash)
        with pytest.raises(EngineDeadError, match="died"):
            await waiting
        assert engine.errored
        assert not engine.ready
        with pytest.raises(EngineDeadError):
            await engine.generate([request])
    finally:
        await engine.shutdown()
    await engine.shutdown()  # idempotent


@pytest.mark.anyio
async def test_shutdown_fails_waiting_callers_and_ends_the_child(tiny_config: EngineConfig) -> None:
    [request] = _requests(1)
    long = GenerationRequest(request.image, request.question, 150, ENDLESS)
    engine = await ProcessEngine.create(tiny_config)
    running = asyncio.create_task(engine.generate([long]))
    await until(lambda: engine.stats().queued + engine.stats().running == 1)
    await engine.shutdown()
    with pytest.raises(EngineDeadError):
        await running
    assert engine._process.exitcode == 0
    assert not engine.ready
    assert not engine.errored
    with pytest.raises(EngineDeadError):
        await engine.generate([request])
