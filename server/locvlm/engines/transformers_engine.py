"""The transformers engine: the CPU default, with dynamic micro-batching and xgrammar.

    async with TransformersEngine.open(EngineConfig(model="runs/tiny/model")) as engine:
        [result] = await engine.generate([GenerationRequest(image, "Where is the circle?")])

Requests wait in an asyncio queue. One batcher task takes the first request, then more
until `max_batch`, until `batch_wait_ms` pass with no new request, or at the latest
`_MAX_WAITS` such waits after the first (a burst of requests arrives one by one, as fast
as the server decodes them: a fixed window would cut it in two, and the halves would
then alternate for good). Two things hold a batch open until that latest time, whatever
the quiet wait: fewer rows than the last batch had, when it follows that batch straight
away (closed-loop callers answered at its end come back a few ms later, through the HTTP
server); and a request that says more are coming (`GenerationRequest.coming`: the API's
count of requests it has admitted and not yet sent).

It hands the batch to the one worker thread, which decodes it greedily while the event
loop stays free: our LLaVA checkpoints as the decode loop's rows (`_decode.RunningRows`,
with no joins), where a complete row leaves the batch, other families with one
left-padded `model.generate`. Either way each row is answered as soon as it is complete
(end token or its limit), not when the batch's longest row is, so its caller (an API
handler) can get on with it meanwhile. A request whose caller was cancelled is skipped
when batches form, and a running row is stopped at its next token, so cancelled work
frees the worker.

Constraints compile to xgrammar grammars (cached by regular expression) and mask each
constrained row's logits with its own matcher, so rows with different constraints, or
none, share a batch.

Rows that ask about one image (the same object: `/v1/detect`'s listing and its second
look, `/v1/ground`'s phrases) prefill the image's prompt prefix once and share its keys
and values (`model.prefix`; our LLaVA checkpoints, either way of batching).

With `batching="continuous"` (our LLaVA checkpoints; other families keep micro-batches)
the worker runs one decode loop instead (`_decode.RunningRows`): requests join the
running rows between decode steps, prefilled together once as many wait as run (or none
runs: a prefill costs a CPU nearly as much for one row as for eight), and each leaves as
soon as it is complete. An idle engine still waits for company as above before it starts.
The counters then read: `batches` prefills (joins), `batched` rows joined,
`largest_batch` the most rows running at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from PIL import Image
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from locvlm.engines._decode import Row, RunningRows
from locvlm.engines.base import (
    Engine,
    EngineStats,
    GenerationRequest,
    GenerationResult,
    TokenLogprob,
    pieces_until,
)
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineDeadError, PromptTooLongError
from locvlm.model.grammar import ConstrainRows, Grammars
from locvlm.model.loading import LoadedModel, load_served
from locvlm.model.prefix import share_prefix
from locvlm.model.served import ServedModel

__all__ = ["TransformersEngine"]

_MAX_WAITS = 8
"""The longest a micro-batch waits for company, in `batch_wait_ms` units."""

_log = logging.getLogger("locvlm.engines")


@dataclass(eq=False)
class _Pending:
    """A queued request and the future its caller awaits."""

    request: GenerationRequest
    future: asyncio.Future[GenerationResult]
    texts: asyncio.Queue[str] | None = None  # streamed: the answer so far, each step


class _Scores(LogitsProcessor):
    """Keeps the log-softmax of each step's raw logits (first in the list: unmasked)."""

    def __init__(self) -> None:
        self.last: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.last = scores.float().log_softmax(-1)
        return scores


class _RowStop(StoppingCriteria):
    """Ends each row at its own token limit, or at once when its caller has gone.

    Each row's tokens go to `answer` as soon as the row is complete (its limit, or the
    end token), so its caller need not wait for the batch's longest row.
    """

    def __init__(
        self,
        batch: Sequence[_Pending],
        prompt_len: int,
        closing: Callable[[], bool],
        eos: Sequence[int],
        answer: Callable[[int, list[int]], None],
        scores: _Scores | None = None,
        progress: Callable[[asyncio.Queue[str], list[int]], None] | None = None,
    ):
        self.batch, self.prompt_len, self.closing = batch, prompt_len, closing
        self.eos, self.answer = set(eos), answer
        self.cancelled: set[int] = set()
        self.answered: set[int] = set()
        self.scores = scores  # when set: each row's chosen tokens' log-probabilities
        self.progress = progress  # called with each streamed row's queue and tokens so far
        self.logprobs: list[list[float]] = [[] for _ in batch]

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object
    ) -> torch.BoolTensor:
        made = input_ids.shape[1] - self.prompt_len
        newest = input_ids[:, -1].tolist()
        if self.scores is not None and self.scores.last is not None:
            picked = self.scores.last.gather(1, input_ids[:, -1:]).squeeze(1).tolist()
            for row, logprob in zip(self.logprobs, picked, strict=True):
                row.append(logprob)
        done = []
        for i, p in enumerate(self.batch):
            # Reading a future's state from this thread is safe: a single attribute read.
            gone = p.future.cancelled() or self.closing()
            if gone:
                self.cancelled.add(i)
            limit = made >= p.request.max_new_tokens
            if self.progress and p.texts is not None and not gone and i not in self.answered:
                self.progress(p.texts, input_ids[i, self.prompt_len :].tolist())
            if not gone and i not in self.answered and (limit or newest[i] in self.eos):
                self.answered.add(i)  # later tokens of a finished row are padding
                self.answer(i, input_ids[i, self.prompt_len :].tolist())
            done.append(gone or limit)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class TransformersEngine(Engine):
    """Greedy generation with transformers in one worker thread, micro-batched."""

    name = "transformers"

    def __init__(self, loaded: ServedModel, config: EngineConfig, worker: ThreadPoolExecutor):
        self.loaded, self.sidecar = loaded, loaded.sidecar
        self._worker = worker
        self._max_batch, self._wait_s = config.max_batch, config.batch_wait_ms / 1000
        text = loaded.model.config.get_text_config()
        self._context = int(text.max_position_embeddings)
        self._grammars = Grammars(loaded.tokenizer, int(text.vocab_size), loaded.eos_token_ids)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._queued: set[_Pending] = set()
        self._open: set[_Pending] = set()  # every request not yet answered
        self._batch: list[_Pending] = []
        self._waiting: list[_Pending] = []  # the decode loop's, for want of room
        self._continuous = config.batching == "continuous" and isinstance(loaded, LoadedModel)
        if config.batching == "continuous" and not self._continuous:
            _log.warning("transformers engine: continuous batching serves our LLaVA "
                         "checkpoints only; micro-batching this one")  # fmt: skip
        # Continuous batching: groups of requests on their way to the decode loop.
        self._arrivals: queue.SimpleQueue[list[_Pending] | None] = queue.SimpleQueue()
        self._last_batch = (0, float("-inf"))  # its size, when it ended
        self._counts = dict.fromkeys(
            ("finished", "batches", "batched", "largest_batch", "skipped_cancelled",
             "stopped_cancelled", "prompt_tokens", "completion_tokens", "shared_prefix_rows"), 0,
        )  # fmt: skip
        self._dead: BaseException | None = None
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        """Set when a batch starts or ends, or a cancelled request is dropped: for a process
        that mirrors `stats` (`process_engine`); cleared by whoever waits on it."""
        self._task = self._loop.create_task(self._serve(), name="locvlm-batcher")

    @classmethod
    async def create(cls, config: EngineConfig) -> TransformersEngine:
        """Load the checkpoint in the worker thread and start the batcher.

        Raises:
            ValueError: an unknown dtype.
            FileNotFoundError: no checkpoint at `config.model`.
        """
        dtype = getattr(torch, config.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown dtype {config.dtype!r}")
        # The worker thread runs Python while generating; with the default 5 ms GIL switch
        # interval the server's event loop waits for it and micro-batches come out short
        # (bench/api.py: API/direct 0.81x at concurrency 32, 0.935x with 0.5 ms).
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="locvlm-transformers")

        def load() -> ServedModel:
            torch.set_num_threads(config.threads)
            return load_served(config.model, config.adapter, dtype)

        try:
            loaded = await asyncio.get_running_loop().run_in_executor(worker, load)
        except BaseException:
            worker.shutdown(wait=True)
            raise
        _log.info("transformers engine: %s loaded (%s, %d threads)",
                  config.model, config.dtype, config.threads)  # fmt: skip
        return cls(loaded, config, worker)

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
        # Rows answered early are done; a cancelled one runs until the batch ends.
        running = sum(p.future.cancelled() or not p.future.done() for p in self._batch)
        queued = len(self._queued) + sum(not p.future.done() for p in self._waiting)
        return EngineStats(queued, running, self._counts["finished"], details)

    # --- serving -------------------------------------------------------------------
    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Queue every request and await their answers (see `Engine.generate`).

        Raises:
            EngineDeadError: the engine has failed or was shut down.
            PromptTooLongError: a prompt and its answer would not fit the model's context.
        """
        pending = self._enqueue(requests, streamed=False)
        try:
            return list(await asyncio.gather(*(p.future for p in pending)))
        finally:  # a failed or cancelled caller frees the rest of its work too
            for p in pending:
                p.future.cancel()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | GenerationResult]:
        """A piece per decoded token, then the result (see `Engine.stream`).

        The row shares micro-batches with every other request, as `generate`'s do.
        """
        [pending] = self._enqueue([request], streamed=True)
        assert pending.texts is not None
        try:
            async for piece in pieces_until(pending.texts, pending.future):
                yield piece
        finally:  # the consumer went away: free the row
            pending.future.cancel()

    def _enqueue(self, requests: Sequence[GenerationRequest], streamed: bool) -> list[_Pending]:
        if self.errored or self._closed:
            raise EngineDeadError(f"transformers engine is {'down' if self._closed else 'dead'}")
        for r in requests:
            need = self.loaded.prompt_tokens(r.question) + r.max_new_tokens
            if need > self._context:
                raise PromptTooLongError(
                    f"prompt and answer need {need} tokens; the context is {self._context}"
                )
        loop = asyncio.get_running_loop()
        pending = [
            _Pending(r, loop.create_future(), asyncio.Queue() if streamed else None)
            for r in requests
        ]
        for p in pending:
            self._queued.add(p)
            self._open.add(p)
            p.future.add_done_callback(functools.partial(self._forget, p))
            self._queue.put_nowait(p)
        return pending

    def _forget(self, pending: _Pending, _: object) -> None:
        self._queued.discard(pending)
        self._open.discard(pending)

    async def _serve(self) -> None:
        try:
            if self._continuous:
                await self._feed_decode_loop()
            while True:
                await self._serve_batch(await self._next_batch())
        except Exception as exc:  # the worker refused work (or a bug): nothing is served again
            self._dead = exc
            _log.exception("transformers engine died")
            self._fail_all(EngineDeadError(f"transformers engine died: {exc!r}"))

    async def _serve_batch(self, batch: list[_Pending]) -> None:
        self._batch = batch
        self.changed.set()
        # Our checkpoints' rows are each answered from the worker (`_run_rows`).
        run = self._run_rows if isinstance(self.loaded, LoadedModel) else self._run
        job = self._worker.submit(run, batch)  # RuntimeError: the worker is gone
        try:
            results = await asyncio.wrap_future(job)
        except Exception as exc:  # generation failed for this batch; the engine goes on
            _log.exception("transformers engine: a batch of %d failed", len(batch))
            results = [exc] * len(batch)
        if results is not None:
            for p, result in zip(batch, results, strict=True):
                self._settle(p, result)  # rows answered early are done already
        self._batch = []
        self._last_batch = (len(batch), self._loop.time())
        self.changed.set()

    def _settle(self, pending: _Pending, result: GenerationResult | BaseException) -> None:
        """Answer `pending`'s caller, unless it has gone or was answered already."""
        if pending.future.done():
            return
        if isinstance(result, BaseException):
            pending.future.set_exception(result)
        else:
            pending.future.set_result(result)
            self._counts["finished"] += 1

    async def _next_batch(self) -> list[_Pending]:
        loop = asyncio.get_running_loop()
        batch: list[_Pending] = []
        deadline = latest = None
        expected = 1
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
                self.changed.set()
                continue
            self._queued.discard(item)
            batch.append(item)
            now = loop.time()
            if latest is None:
                latest = now + _MAX_WAITS * self._wait_s
                # Straight after the last batch, as many rows again are likely: its callers
                # answered at its end are sending their next requests.
                back_to_back = now - self._last_batch[1] <= _MAX_WAITS * self._wait_s
                expected = self._last_batch[0] if back_to_back else 1
            # A quiet wait from the newest; while more are expected (the last batch's
            # size, or the server's count of requests on their way), the longest wait.
            more = len(batch) < expected or item.request.coming > 0
            deadline = latest if more else min(now + self._wait_s, latest)
        return batch

    async def _feed_decode_loop(self) -> None:
        """Hand requests to the decode loop in groups, as they come; raises if it fails.

        While rows run, whatever has arrived goes at once (the loop takes every group that
        came during a step into one prefill); an idle loop gets a micro-batch's group.
        """
        loop_done = asyncio.wrap_future(self._worker.submit(self._decode_loop))
        while not loop_done.done():
            busy = self._batch or self._waiting or not self._arrivals.empty()
            forming = asyncio.ensure_future(self._burst() if busy else self._next_batch())
            await asyncio.wait((forming, loop_done), return_when=asyncio.FIRST_COMPLETED)
            if not forming.done():
                forming.cancel()  # any it took are still open: `_fail_all` answers them
                break
            group = forming.result()
            for p in group:
                self._queued.discard(p)
            self._arrivals.put(group)
        loop_done.result()  # its exception, if it failed
        raise RuntimeError("the decode loop ended")

    async def _burst(self) -> list[_Pending]:
        """The next request and every other one queued now."""
        group = [await self._queue.get()]
        while not self._queue.empty():
            group.append(self._queue.get_nowait())
        return group

    def _fail_all(self, error: EngineDeadError) -> None:
        """Fail every request not yet answered (running, queued or on its way) with `error`."""
        self._batch, self._waiting = [], []
        while not self._queue.empty():
            self._queue.get_nowait()
        for p in list(self._open):
            if not p.future.done():
                p.future.set_exception(error)

    # --- the worker thread ---------------------------------------------------------
    def _run_rows(self, batch: Sequence[_Pending]) -> None:
        """A micro-batch of our checkpoints: the decode loop's rows, with no joins.

        Each row leaves as soon as it is complete (a detect request's short answers do not
        decode on, as padding, until its listing ends), and is answered from here.
        """
        loaded = self.loaded
        running = RunningRows(loaded.model, self._grammars.vocab_size, loaded.eos_token_ids)
        with torch.inference_mode():
            self._join(running, list(batch))
            while running and not self._closed:  # shutting down: `_fail_all` answers them
                self._step(running)

    def _run(self, batch: Sequence[_Pending]) -> list[GenerationResult | Exception]:
        """Other families: prepare each request on its own, then generate the rest together.

        A bad image or a constraint the grammar compiler refuses fails only its request.
        """
        images: dict[int, Image.Image] = {}
        failed: dict[int, Exception] = {}
        for i, prepared in enumerate(self._run_prepare(batch)):
            if isinstance(prepared, Exception):
                failed[i] = prepared
            else:
                images[i] = prepared
        rows = list(images)
        results = self._generate([batch[i] for i in rows], list(images.values())) if rows else []
        done = dict(zip(rows, results, strict=True))
        return [failed[i] if i in failed else done[i] for i in range(len(batch))]

    def _run_prepare(self, batch: Sequence[_Pending]) -> list[Image.Image | Exception]:
        """Each request's prepared image, or why it cannot be served (its own failure)."""
        out: list[Image.Image | Exception] = []
        for p in batch:
            try:
                image = self.adapter.prepare(p.request.image)
                if p.request.constraint is not None:  # compiled (and cached) here
                    self._grammars.compile(p.request.constraint.for_engine())
            except Exception as exc:  # an unreadable image, a pattern xgrammar refuses
                out.append(exc)
            else:
                out.append(image)
        return out

    def _generate(
        self, batch: Sequence[_Pending], images: Sequence[Image.Image]
    ) -> list[GenerationResult]:
        loaded = self.loaded
        inputs = loaded.inputs(images, [p.request.question for p in batch])
        prompt_len = loaded.prompt_length(inputs)
        early: dict[int, GenerationResult] = {}

        def answer(i: int, tokens: list[int]) -> None:  # a row is complete: answer it now
            early[i] = self._result(batch[i], tokens, stop.logprobs[i])
            self._loop.call_soon_threadsafe(self._settle, batch[i], early[i])

        def progress(texts: asyncio.Queue[str], tokens: list[int]) -> None:  # streamed rows
            self._loop.call_soon_threadsafe(texts.put_nowait, loaded.decode(tokens))

        scores = _Scores() if any(p.request.logprobs for p in batch) else None
        stop = _RowStop(batch, prompt_len, lambda: self._closed, loaded.eos_token_ids, answer,
                        scores, progress)  # fmt: skip
        constraints = [p.request.constraint for p in batch]
        processors = LogitsProcessorList([scores] if scores is not None else [])
        if any(constraints):
            grammars = [
                None if c is None else self._grammars.compile(c.for_engine()) for c in constraints
            ]
            processors.append(ConstrainRows(grammars, self._grammars.vocab_size))
        # Counted before generating: its rows are answered as they complete, from within.
        self._counts["batches"] += 1
        self._counts["batched"] += len(batch)
        self._counts["largest_batch"] = max(self._counts["largest_batch"], len(batch))
        with torch.inference_mode():
            out = loaded.model.generate(
                **inputs, max_new_tokens=max(p.request.max_new_tokens for p in batch),
                do_sample=False, logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([stop]),
                pad_token_id=loaded.pad_token_id, eos_token_id=loaded.eos_token_ids,
            )  # fmt: skip
        self._counts["stopped_cancelled"] += len(stop.cancelled)
        rows = out[:, prompt_len:].tolist()
        return [
            early[i] if i in early else self._result(p, rows[i], stop.logprobs[i])
            for i, p in enumerate(batch)
        ]

    def _shared(
        self, batch: Sequence[_Pending], inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """`inputs`, or where rows ask about one image, its prefix prefilled once for them.

        The result then carries the prefix's key/value `cache` and no pixels
        (`model.prefix`): `RunningRows.join` prefills the questions only. Our LLaVA
        checkpoints only.
        """
        if not isinstance(self.loaded, LoadedModel):
            return inputs
        shared = share_prefix(
            self.loaded.model, inputs, [id(p.request.image) for p in batch],
            self.loaded.encoder.image_id, self.loaded.pad_token_id,
        )  # fmt: skip
        if shared is None:
            return inputs
        self._counts["shared_prefix_rows"] += len(batch) - shared.images
        return {**shared.inputs, "cache": shared.cache}  # type: ignore[dict-item]

    def _decode_loop(self) -> None:
        """Continuous batching: run the rows, letting new ones join between steps.

        Returns when the engine shuts down. A failed prefill fails its group, a failed
        step the rows it ran; the loop goes on.
        """
        loaded = self.loaded
        running = RunningRows(loaded.model, self._grammars.vocab_size, loaded.eos_token_ids)
        waiting: list[_Pending] = []
        with torch.inference_mode():
            while not self._closed:
                arrived = self._arrived(block=not running and not waiting)
                if arrived is None:
                    return
                gone = sum(p.future.done() for p in waiting + arrived)  # callers gone away
                self._counts["skipped_cancelled"] += gone
                waiting = [p for p in waiting + arrived if not p.future.done()]
                room = self._max_batch - len(running)
                # A join is a prefill, which on a CPU costs a batch of one about what it
                # costs eight: the waiting join once they are as many as the running rows
                # (or none runs), not one by one (bench/api.py --batching continuous).
                if waiting and room > 0 and len(waiting) >= min(len(running), room):
                    self._join(running, waiting[:room])
                    waiting = waiting[room:]
                self._show(running, waiting, gone > 0)  # before their first tokens
                if running:
                    self._step(running)
                    self._show(running, waiting)

    def _show(self, running: RunningRows, waiting: list[_Pending], changed: bool = False) -> None:
        """Publish the rows running and waiting for `stats`; say so if they changed."""
        rows = [r.handle for r in running.rows]
        if changed or rows != self._batch or waiting != self._waiting:
            self._batch, self._waiting = rows, waiting
            self._loop.call_soon_threadsafe(self.changed.set)

    def _arrived(self, block: bool) -> list[_Pending] | None:
        """Every request handed over since the last step; None once the engine shuts down.

        With `block`, waits for the first.
        """
        arrived: list[_Pending] = []
        try:
            while (group := self._arrivals.get(block=block and not arrived)) is not None:
                arrived += group
        except queue.Empty:
            return arrived
        return None

    def _join(self, running: RunningRows, group: list[_Pending]) -> None:
        """Prefill `group` together and add it to `running`; a failure fails only it."""
        ready: list[_Pending] = []
        images: list[Image.Image] = []
        for p, result in zip(group, self._run_prepare(group), strict=True):
            if isinstance(result, Exception):
                self._loop.call_soon_threadsafe(self._settle, p, result)
            else:
                ready.append(p)
                images.append(result)
        if not ready:
            return
        rows = [
            Row(p, p.request.max_new_tokens, logprobs=p.request.logprobs,
                grammar=None if p.request.constraint is None
                else self._grammars.compile(p.request.constraint.for_engine()))
            for p in ready
        ]  # fmt: skip
        try:
            inputs = self.loaded.inputs(images, [p.request.question for p in ready])
            running.join(rows, self._shared(ready, inputs))
        except Exception as exc:
            _log.exception("transformers engine: a prefill of %d failed", len(ready))
            for p in ready:
                self._loop.call_soon_threadsafe(self._settle, p, exc)
            return
        self._counts["batches"] += 1
        self._counts["batched"] += len(ready)
        self._counts["largest_batch"] = max(self._counts["largest_batch"], len(running))

    def _step(self, running: RunningRows) -> None:
        """One token for every row; answer the complete ones and drop the gone ones."""
        try:
            running.choose()
            keep = []
            for i, row in enumerate(running.rows):
                p: _Pending = row.handle
                if p.future.done():  # its caller went away: its work is still counted
                    self._counts["stopped_cancelled"] += 1
                    self._counts["prompt_tokens"] += self.loaded.prompt_tokens(p.request.question)
                    self._counts["completion_tokens"] += len(row.tokens)
                elif running.finished(row):
                    result = self._result(p, row.tokens, row.scores)
                    self._loop.call_soon_threadsafe(self._settle, p, result)
                else:
                    keep.append(i)
                    if p.texts is not None:
                        text = self.loaded.decode(row.tokens)
                        self._loop.call_soon_threadsafe(p.texts.put_nowait, text)
            running.keep(keep)
            if running:
                running.advance()
        except Exception as exc:
            _log.exception("transformers engine: a decode step of %d rows failed", len(running))
            for row in running.rows:
                self._loop.call_soon_threadsafe(self._settle, row.handle, exc)
            running.keep([])

    def _result(
        self, pending: _Pending, row: list[int], logprobs: Sequence[float] = ()
    ) -> GenerationResult:
        request, eos = pending.request, set(self.loaded.eos_token_ids)
        tokens = row[: request.max_new_tokens]
        finish = "length"
        end = next((k for k, t in enumerate(tokens) if t in eos), None)
        if end is not None:
            tokens, finish = tokens[: end + 1], "stop"
        prompt_tokens = self.loaded.prompt_tokens(request.question)
        self._counts["prompt_tokens"] += prompt_tokens
        self._counts["completion_tokens"] += len(tokens)
        text = self.loaded.decode(tokens)
        scored = self._logprobs(tokens, logprobs, len(text)) if request.logprobs else ()
        return GenerationResult(text, prompt_tokens, len(tokens), finish, scored)

    def _logprobs(
        self, tokens: Sequence[int], logprobs: Sequence[float], length: int
    ) -> tuple[TokenLogprob, ...]:
        """Each token's end offset (the length of the text its prefix decodes to)."""
        ends, at = [], 0
        for k in range(len(tokens)):
            at = min(max(at, len(self.loaded.decode(tokens[: k + 1]))), length)
            ends.append(at)
        return tuple(TokenLogprob(e, lp) for e, lp in zip(ends, logprobs, strict=False))

    async def shutdown(self) -> None:
        """Stop the batcher, end the running batch early, join the worker; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._arrivals.put(None)  # the decode loop's end, if it runs
        self._fail_all(EngineDeadError("transformers engine is shut down"))
        await asyncio.to_thread(self._worker.shutdown, wait=True)
        _log.info("transformers engine: shut down")
