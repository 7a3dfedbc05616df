"""The transformers engine: the CPU default, with dynamic micro-batching and xgrammar.

    async with TransformersEngine.open(Settings(model="runs/tiny/model")) as engine:
        [result] = await engine.generate([GenerationRequest(image, "Where is the circle?")])

Requests wait in an asyncio queue. One batcher task takes the first request, then more
until `max_batch` or until `batch_wait_ms` have passed, and hands the batch to the one
worker thread, which runs a single left-padded greedy `model.generate` for it while the
event loop stays free. A request whose caller was cancelled is skipped when batches
form, and a running row is stopped at its next token, so cancelled work frees the worker.
Constraints compile to xgrammar grammars (cached by regular expression) and mask each
constrained row's logits with its own matcher, so rows with different constraints, or
none, share a batch.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import xgrammar as xgr
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedTokenizerFast,
    StoppingCriteria,
    StoppingCriteriaList,
)

from locvlm.engines.base import (
    Engine,
    EngineDeadError,
    EngineStats,
    GenerationRequest,
    GenerationResult,
    square,
)
from locvlm.model.inputs import prompt_batch
from locvlm.model.loading import LoadedModel, load_model

if TYPE_CHECKING:
    from locvlm.api.settings import Settings

__all__ = ["Grammars", "TransformersEngine"]

_log = logging.getLogger("locvlm.engines")


class Grammars:
    """xgrammar grammars compiled for one tokenizer, cached by regular expression."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast, vocab_size: int) -> None:
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=[tokenizer.eos_token_id]
        )
        self._compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        self._cache: dict[str, xgr.CompiledGrammar] = {}
        self.vocab_size = vocab_size

    def compile(self, regex: str) -> xgr.CompiledGrammar:
        """The grammar of an answer matching `regex`, after the space answers start with."""
        if regex not in self._cache:
            if len(self._cache) >= 256:  # bounded: NegPred alternatives carry the phrase
                self._cache.clear()
            # xgrammar warns on `\ ` (what re.escape writes for a space) and means " ".
            cleaned = re.sub(r"(?<!\\)((?:\\\\)*)\\ ", r"\1 ", regex)
            grammar = xgr.Grammar.from_regex(f"[ ]?(?:{cleaned})")
            self._cache[regex] = self._compiler.compile_grammar(grammar)
        return self._cache[regex]


class _Constrain(LogitsProcessor):
    """Masks the logits of constrained rows with one xgrammar matcher per row."""

    def __init__(self, grammars: Sequence[xgr.CompiledGrammar | None], vocab_size: int) -> None:
        self.matchers = [None if g is None else xgr.GrammarMatcher(g) for g in grammars]
        self.bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
        self.started = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.started:
            for i, matcher in enumerate(self.matchers):
                # A refused token is the padding after a row stopped at its own limit.
                if matcher and not matcher.is_terminated():
                    if not matcher.accept_token(int(input_ids[i, -1])):
                        self.matchers[i] = None
        self.started = True
        rows = [i for i, m in enumerate(self.matchers) if m and not m.is_terminated()]
        for i in rows:
            self.matchers[i].fill_next_token_bitmask(self.bitmask, i)  # type: ignore[union-attr]
        if rows:
            xgr.apply_token_bitmask_inplace(scores, self.bitmask, indices=rows)
        return scores


@dataclass(eq=False)
class _Pending:
    """A queued request and the future its caller awaits."""

    request: GenerationRequest
    future: asyncio.Future[GenerationResult]


class _RowStop(StoppingCriteria):
    """Ends each row at its own token limit, or at once when its caller has gone."""

    def __init__(self, batch: Sequence[_Pending], prompt_len: int, closing: Callable[[], bool]):
        self.batch, self.prompt_len, self.closing = batch, prompt_len, closing
        self.cancelled: set[int] = set()

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object
    ) -> torch.BoolTensor:
        made = input_ids.shape[1] - self.prompt_len
        done = []
        for i, p in enumerate(self.batch):
            # Reading a future's state from this thread is safe: a single attribute read.
            gone = p.future.cancelled() or self.closing()
            if gone:
                self.cancelled.add(i)
            done.append(gone or made >= p.request.max_new_tokens)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class TransformersEngine(Engine):
    """Greedy generation with transformers in one worker thread, micro-batched."""

    name = "transformers"

    def __init__(self, loaded: LoadedModel, settings: Settings, worker: ThreadPoolExecutor):
        self.loaded, self.sidecar = loaded, loaded.sidecar
        self._worker = worker
        self._max_batch, self._wait_s = settings.max_batch, settings.batch_wait_ms / 1000
        text = loaded.model.config.get_text_config()
        self._context = int(text.max_position_embeddings)
        self._grammars = Grammars(loaded.tokenizer, int(text.vocab_size))
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._queued: set[_Pending] = set()
        self._batch: list[_Pending] = []
        self._counts = dict.fromkeys(
            ("finished", "batches", "batched", "largest_batch", "skipped_cancelled",
             "stopped_cancelled", "prompt_tokens", "completion_tokens"), 0,
        )  # fmt: skip
        self._dead: BaseException | None = None
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="locvlm-batcher")

    @classmethod
    async def create(cls, settings: Settings) -> TransformersEngine:
        """Load the checkpoint in the worker thread and start the batcher."""
        dtype = getattr(torch, settings.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown dtype {settings.dtype!r}")
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="locvlm-transformers")

        def load() -> LoadedModel:
            torch.set_num_threads(settings.threads)
            return load_model(settings.model, dtype)

        try:
            loaded = await asyncio.get_running_loop().run_in_executor(worker, load)
        except BaseException:
            worker.shutdown(wait=True)
            raise
        _log.info("transformers engine: %s loaded (%s, %d threads)",
                  settings.model, settings.dtype, settings.threads)  # fmt: skip
        return cls(loaded, settings, worker)

    # --- state ---------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Loaded, serving, not shut down."""
        return not self._closed and not self.errored

    @property
    def errored(self) -> bool:
        """The worker or the batcher died."""
        return self._dead is not None or (self._task.done() and not self._closed)

    def stats(self) -> EngineStats:
        """Queue depth, rows generating now, requests answered; batching counters."""
        details = {k: float(v) for k, v in self._counts.items() if k != "finished"}
        return EngineStats(len(self._queued), len(self._batch), self._counts["finished"], details)

    # --- serving -------------------------------------------------------------------
    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Queue every request and await their answers (see `Engine.generate`).

        Raises:
            EngineDeadError: the engine has failed or was shut down.
            ValueError: a prompt and its answer would not fit the model's context.
        """
        if self.errored or self._closed:
            raise EngineDeadError(f"transformers engine is {'down' if self._closed else 'dead'}")
        for r in requests:
            need = len(self.loaded.encoder.prompt_ids(r.question)) + r.max_new_tokens
            if need > self._context:
                raise ValueError(f"prompt and answer need {need} tokens; context {self._context}")
        loop = asyncio.get_running_loop()
        pending = [_Pending(r, loop.create_future()) for r in requests]
        for p in pending:
            self._queued.add(p)
            p.future.add_done_callback(lambda _, p=p: self._queued.discard(p))
            self._queue.put_nowait(p)
        try:
            return list(await asyncio.gather(*(p.future for p in pending)))
        finally:  # a failed or cancelled caller frees the rest of its work too
            for p in pending:
                p.future.cancel()

    async def _serve(self) -> None:
        while True:
            self._batch = batch = await self._next_batch()
            try:
                job = self._worker.submit(self._run, batch)
            except RuntimeError as exc:  # the worker is gone: nothing can be served again
                self._dead = exc
                _log.error("transformers engine died: %s", exc)
                self._fail_all(EngineDeadError(f"transformers engine died: {exc}"))
                return
            results: Sequence[GenerationResult | BaseException]
            try:
                results = await asyncio.wrap_future(job)
            except Exception as exc:  # this batch failed; the engine serves the next
                _log.exception("transformers engine: a batch of %d failed", len(batch))
                results = [exc] * len(batch)
            self._batch = []
            for p, result in zip(batch, results, strict=True):
                if p.future.done():
                    continue
                if isinstance(result, BaseException):
                    p.future.set_exception(result)
                else:
                    p.future.set_result(result)
                    self._counts["finished"] += 1

    async def _next_batch(self) -> list[_Pending]:
        loop = asyncio.get_running_loop()
        batch: list[_Pending] = []
        deadline = None
        while len(batch) < self._max_batch:
            if self._queue.empty() and deadline is not None:
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            else:
                item = await self._queue.get()
            if item.future.done():  # its caller went away while it waited
                self._counts["skipped_cancelled"] += 1
                continue
            self._queued.discard(item)
            batch.append(item)
            if deadline is None:
                deadline = loop.time() + self._wait_s
        return batch

    def _fail_all(self, error: EngineDeadError) -> None:
        """Fail the running batch and everything queued with `error`."""
        pending, self._batch = self._batch, []
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for p in pending:
            if not p.future.done():
                p.future.set_exception(error)

    # --- the worker thread ---------------------------------------------------------
    def _run(self, batch: Sequence[_Pending]) -> list[GenerationResult]:
        loaded, tok = self.loaded, self.loaded.tokenizer
        side = self.sidecar.image_size
        images = [square(p.request.image, side) for p in batch]
        inputs = prompt_batch(loaded.encoder, images, [p.request.question for p in batch])
        prompt_len = inputs["input_ids"].shape[1]
        stop = _RowStop(batch, prompt_len, lambda: self._closed)
        constraints = [p.request.constraint for p in batch]
        processors = LogitsProcessorList()
        if any(constraints):
            grammars = [None if c is None else self._grammars.compile(c.as_regex()) for c in constraints]
            processors.append(_Constrain(grammars, self._grammars.vocab_size))
        with torch.inference_mode():
            out = loaded.model.generate(
                **inputs, max_new_tokens=max(p.request.max_new_tokens for p in batch),
                do_sample=False, logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([stop]),
                pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
            )  # fmt: skip
        self._counts["batches"] += 1
        self._counts["batched"] += len(batch)
        self._counts["largest_batch"] = max(self._counts["largest_batch"], len(batch))
        self._counts["stopped_cancelled"] += len(stop.cancelled)
        return [self._result(p, row) for p, row in zip(batch, out[:, prompt_len:], strict=True)]

    def _result(self, pending: _Pending, row: torch.Tensor) -> GenerationResult:
        request, tok = pending.request, self.loaded.tokenizer
        tokens = row.tolist()[: request.max_new_tokens]
        finish = "length"
        if tok.eos_token_id in tokens:
            tokens, finish = tokens[: tokens.index(tok.eos_token_id) + 1], "stop"
        prompt_tokens = len(self.loaded.encoder.prompt_ids(request.question))
        self._counts["prompt_tokens"] += prompt_tokens
        self._counts["completion_tokens"] += len(tokens)
        text = tok.decode(tokens, skip_special_tokens=True).strip()
        return GenerationResult(text, prompt_tokens, len(tokens), finish)

    async def shutdown(self) -> None:
        """Stop the batcher, end the running batch early, join the worker; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._fail_all(EngineDeadError("transformers engine is shut down"))
        await asyncio.to_thread(self._worker.shutdown, wait=True)
        _log.info("transformers engine: shut down")
