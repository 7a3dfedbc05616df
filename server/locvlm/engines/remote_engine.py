"""RemoteEngine: a pool of OpenAI-compatible chat-completions endpoints (`vllm serve`, ...).

    LOCVLM_ENGINE=remote LOCVLM_REMOTE_URLS='["http://10.0.0.5:8000", "http://10.0.0.6:8000"]' \
        LOCVLM_MODEL=runs/tiny/model locvlm serve

Images travel as PNG data URLs, already prepared for the model (`Adapter.prepare`),
so a replica's own resize is a no-op; the question goes as a text part and the
checkpoint's saved chat template puts the image where the model was trained to see it.
`LOCVLM_MODEL` names a local copy of the served checkpoint: its sidecar gives the input
size. Requests go round-robin; a replica that cannot be reached is skipped for
`remote_eject_s` and re-admitted early by the periodic `/v1/models` probe. Only
connection failures are retried (on the next replica): an HTTP error answer is the
replica's verdict on that request, and a timeout means it may still be working on it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from locvlm.engines.base import (
    Engine,
    EngineStats,
    GenerationRequest,
    GenerationResult,
    TokenLogprob,
    token_logprobs,
)
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineDeadError
from locvlm.model.sidecar import Sidecar

__all__ = ["NoReplicaError", "RemoteEngine", "RemoteStatusError"]

CONNECTION_ERRORS = (
    httpx.ConnectError,  # refused, unreachable, DNS
    httpx.ConnectTimeout,  # the request never reached the replica
    httpx.RemoteProtocolError,  # it closed the connection without an answer (crashed)
    httpx.ReadError,  # reset mid-answer; greedy decoding makes a retry give the same text
    httpx.WriteError,
)
"""Failures of the connection itself: retried on another replica, the replica ejected."""


class RemoteStatusError(RuntimeError):
    """A replica answered the request with an HTTP error (not retried)."""

    def __init__(self, status_code: int, detail: str):
        super().__init__(f"remote engine answered {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class NoReplicaError(EngineDeadError):
    """No replica could be reached (every try failed to connect)."""


@dataclass
class _Replica:
    base: str  # scheme://host:port[/prefix], without the trailing /v1
    ejected_until: float = 0.0  # clock time before which round-robin skips it
    healthy: bool = False  # answered its last probe or request


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    return url.removesuffix("/v1")


def _data_url(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # lossless: the replica sees our pixels exactly
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class RemoteEngine(Engine):
    """Chat completions against a list of base URLs, round-robin with ejection."""

    name = "remote"

    def __init__(
        self,
        client: httpx.AsyncClient,
        urls: Sequence[str],
        sidecar: Sidecar,
        *,
        model: str | None = None,
        max_new_tokens: int = EngineConfig.max_new_tokens,
        retries: int = EngineConfig.remote_retries,
        eject_s: float = EngineConfig.remote_eject_s,
        probe_s: float = 10.0,  # how often ejected replicas are probed for re-admission
        clock: Callable[[], float] = time.monotonic,
    ):
        if not urls:
            raise ValueError("the remote engine needs at least one base URL")
        self._client = client
        self._replicas = [_Replica(_base_url(u)) for u in urls]
        self.sidecar = sidecar
        self.model = model  # None: the first model the endpoint lists, once one answers
        self._max_new_tokens = max_new_tokens
        self._retries = retries
        self._eject_s = eject_s
        self._probe_s = probe_s
        self._clock = clock
        self._turn = 0
        self._in_flight = 0
        self._finished = 0
        self._prober: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def create(cls, config: EngineConfig) -> RemoteEngine:
        """Probe the replicas once and keep probing in the background.

        Raises:
            ValueError: `remote_urls` is empty.
            FileNotFoundError: no local checkpoint (for the sidecar) at `config.model`.
        """
        if not config.remote_urls:
            raise ValueError("engine=remote needs remote_urls (LOCVLM_REMOTE_URLS)")
        sidecar = config.sidecar()
        limit = config.remote_timeout_s
        client = httpx.AsyncClient(timeout=httpx.Timeout(limit, connect=min(5.0, limit)))
        engine = cls(
            client,
            config.remote_urls,
            sidecar,
            model=config.remote_model,
            max_new_tokens=config.max_new_tokens,
            retries=config.remote_retries,
            eject_s=config.remote_eject_s,
        )
        await engine.probe()
        engine.start_probing()
        return engine

    # --- replica health -----------------------------------------------------------
    @property
    def replicas(self) -> list[tuple[str, bool]]:
        """(base URL, admitted now) of every replica, in round-robin order."""
        now = self._clock()
        return [(r.base, r.ejected_until <= now) for r in self._replicas]

    def _eject(self, replica: _Replica) -> None:
        replica.healthy = False
        replica.ejected_until = self._clock() + self._eject_s

    def _pick(self) -> _Replica:
        now = self._clock()
        for _ in range(len(self._replicas)):
            replica = self._replicas[self._turn % len(self._replicas)]
            self._turn += 1
            if replica.ejected_until <= now:
                return replica
        # Every replica is ejected: try the one due back first rather than refuse.
        return min(self._replicas, key=lambda r: r.ejected_until)

    async def _probe_one(self, replica: _Replica) -> bool:
        try:
            response = await self._client.get(replica.base + "/v1/models", timeout=5.0)
            response.raise_for_status()
            listed = [m["id"] for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            self._eject(replica)
            return False
        replica.healthy, replica.ejected_until = True, 0.0
        if self.model is None and listed:
            self.model = listed[0]
        return True

    async def probe(self) -> int:
        """Ask every replica for `/v1/models`: re-admit those that answer, eject the rest.

        Returns:
            How many replicas answered.
        """
        answered = await asyncio.gather(*(self._probe_one(r) for r in self._replicas))
        return sum(answered)

    def start_probing(self) -> None:
        """Probe every `probe_s` seconds in a background task (until `shutdown`)."""
        if self._prober is None:
            self._prober = asyncio.create_task(self._probe_forever())

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self._probe_s)
            await self.probe()

    # --- the Engine protocol ------------------------------------------------------
    @property
    def ready(self) -> bool:
        """A model name is known and at least one admitted replica answered."""
        now = self._clock()
        admitted = any(r.healthy and r.ejected_until <= now for r in self._replicas)
        return not self._closed and self.model is not None and admitted

    def stats(self) -> EngineStats:
        """Requests waiting on a replica's answer, and how many replicas are admitted."""
        admitted = sum(ok for _, ok in self.replicas)
        return EngineStats(
            running=self._in_flight,
            finished=self._finished,
            details={"replicas_admitted": float(admitted), "replicas": len(self._replicas)},
        )

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Send every request at once; cancelling the caller closes their connections.

        Raises:
            NoReplicaError: no replica could be reached within the retries.
            RemoteStatusError: a replica answered with an HTTP error.
            TimeoutError: a replica took longer than the timeout to answer.
        """
        if self._closed:
            raise EngineDeadError("the remote engine is shut down")
        if self.model is None and not await self.probe():
            raise NoReplicaError("no replica answered /v1/models, so no model name is known")
        calls = [asyncio.ensure_future(self._one(r)) for r in requests]
        try:  # gather cancels every call when the caller is cancelled, closing its socket
            return list(await asyncio.gather(*calls))
        finally:  # and after a failure, the calls still waiting are dropped too
            for call in calls:
                call.cancel()

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        image = self.adapter.prepare(request.image)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": _data_url(image)}},
                        {"type": "text", "text": request.question},
                    ],
                }
            ],
            "max_tokens": min(request.max_new_tokens, self._max_new_tokens),
            "temperature": 0.0,
        }
        if request.constraint is not None:  # vLLM >= 0.12; older servers used guided_regex
            body["structured_outputs"] = {"regex": request.constraint.for_engine()}
        if request.logprobs:
            body["logprobs"] = True  # the chosen tokens' (top_logprobs 0)
        return body

    async def _one(self, request: GenerationRequest) -> GenerationResult:
        self._in_flight += 1
        try:
            answer = await self._post(self._body(request))
        finally:
            self._in_flight -= 1
        self._finished += 1
        choice, usage = answer["choices"][0], answer.get("usage") or {}
        content = choice["message"].get("content") or ""
        text = content.strip()
        scored: tuple[TokenLogprob, ...] = ()
        tokens = (choice.get("logprobs") or {}).get("content") or []
        if request.logprobs and tokens:
            scored = token_logprobs(
                [str(t.get("token", "")) for t in tokens],
                [float(t.get("logprob", 0.0)) for t in tokens],
                len(content) - len(content.lstrip()), len(text),
            )  # fmt: skip
        return GenerationResult(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            logprobs=scored,
        )

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        failures: list[str] = []
        for _ in range(self._retries + 1):
            replica = self._pick()
            try:
                response = await self._client.post(replica.base + "/v1/chat/completions", json=body)
            except CONNECTION_ERRORS as exc:
                self._eject(replica)
                failures.append(f"{replica.base}: {exc!r}")
                continue
            except httpx.TimeoutException as exc:
                raise TimeoutError(f"{replica.base} did not answer in time ({exc!r})") from exc
            replica.healthy = True
            if response.is_error:
                raise RemoteStatusError(response.status_code, response.text[:500])
            answer: dict[str, Any] = response.json()
            return answer
        raise NoReplicaError("no replica could be reached: " + "; ".join(failures))

    async def shutdown(self) -> None:
        """Stop probing and close the HTTP client; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        await self._client.aclose()
