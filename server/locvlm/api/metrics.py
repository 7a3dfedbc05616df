"""Prometheus metrics: one registry per app, its HTTP middleware, and `GET /metrics`.

    curl -s localhost:8000/metrics | grep ^locvlm_

`/metrics` is outside `/v1`: API keys and the in-flight bound do not apply, so a scraper
needs no key and is never refused under load. It shows counts and timings, never request
content; keep it to your scraper's network all the same.

What is measured (every name starts `locvlm_`):
- `http_requests_total{route,method,status}` and `http_request_duration_seconds{route}`:
  every request, by route template (`/v1/ground`, never the raw path; `unmatched` for
  404s). A client that disconnects before its answer counts as status 499.
- `rejections_total{reason}`: every error answer to a `/v1` request, by its `error.type`
  (`rate_limited` 429, `payload_too_large` 413, `unauthorized` 401, `unavailable` 503,
  ...); a probe's 503 (`/readyz` while loading) is a state, not a refusal.
- `requests_in_flight` (the `/v1` requests holding a slot), `engine_queued_requests` and
  `engine_running_requests` (from `Engine.stats()`), and `engine_restarts` (a dead engine
  loaded again, see `locvlm.api.lifecycle`), read when scraped.
- `engine_generation_seconds` (per answer: the engine call it was part of),
  `engine_generations_total{finish_reason}`, `engine_prompt_tokens_total`,
  `engine_completion_tokens_total`.
- `image_load_seconds{source}`: a request image turned into pixels: base64 and decoding
  (`data`), decoding (`upload`), or fetch and decoding (`url`).
- `parse_failures_total{task}` (answers their task's parser could not read) and
  `boxes_returned_total{task}`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from locvlm.api import errors
from locvlm.api.lifecycle import Lifecycle
from locvlm.engines.base import GenerationResult

__all__ = ["HTTPMetrics", "Metrics", "router"]

# Seconds: CPU engines answer in tens of milliseconds to tens of seconds.
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_DECODE = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_DISCONNECTED = 499  # nginx's "client closed request": no answer was sent


class Metrics:
    """The app's metrics in a registry of its own (two apps never share a series).

    Also the `ServingObserver` of the app's serving context (see `locvlm.serving`).
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.registry = CollectorRegistry()
        self._lifecycle = lifecycle
        self.requests = self._counter(
            "http_requests", "HTTP requests answered.", ["route", "method", "status"]
        )
        self.latency = self._histogram(
            "http_request_duration_seconds", "Request to last byte answered.", ["route"]
        )
        self.rejections = self._counter("rejections", "Error answers, by error type.", ["reason"])
        self.generation = self._histogram(
            "engine_generation_seconds", "Engine time of each answer (its whole engine call)."
        )
        self.generations = self._counter(
            "engine_generations", "Answers generated.", ["finish_reason"]
        )
        self.prompt_tokens = self._counter("engine_prompt_tokens", "Prompt tokens processed.")
        self.completion_tokens = self._counter("engine_completion_tokens", "Tokens generated.")
        self.image_load = self._histogram(
            "image_load_seconds",
            "Request image to pixels (url: fetch included).",
            ["source"],
            _DECODE,
        )
        self.parse_failures = self._counter(
            "parse_failures", "Answers their task's parser could not read.", ["task"]
        )
        self.boxes = self._counter("boxes_returned", "Boxes returned to callers.", ["task"])
        self._gauge("requests_in_flight", "/v1 requests holding a slot.").set_function(
            lambda: lifecycle.in_flight
        )
        self._gauge("engine_restarts", "Engine restarts since the server started.").set_function(
            lambda: lifecycle.restarts
        )
        self._gauge("engine_queued_requests", "Requests queued in the engine.").set_function(
            lambda: self._engine_stat("queued")
        )
        self._gauge("engine_running_requests", "Requests the engine runs now.").set_function(
            lambda: self._engine_stat("running")
        )

    def _counter(self, name: str, doc: str, labels: list[str] | None = None) -> Counter:
        return Counter(f"locvlm_{name}", doc, labels or [], registry=self.registry)

    def _histogram(
        self,
        name: str,
        doc: str,
        labels: list[str] | None = None,
        buckets: Sequence[float] = _LATENCY,
    ) -> Histogram:
        return Histogram(
            f"locvlm_{name}", doc, labels or [], buckets=buckets, registry=self.registry
        )

    def _gauge(self, name: str, doc: str) -> Gauge:
        return Gauge(f"locvlm_{name}", doc, registry=self.registry)

    def _engine_stat(self, name: str) -> float:
        serving = self._lifecycle.serving
        return 0.0 if serving is None else float(getattr(serving.engine.stats(), name))

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)

    # --- what the HTTP middleware and the image loader report ------------------------
    def request_done(
        self, route: str, method: str, status: int, seconds: float, api: bool = True
    ) -> None:
        """One request answered (or abandoned: status 499); `api`: under `/v1`."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if api and status >= 400 and status != _DISCONNECTED:
            self.rejections.labels(_REASONS.get(status, f"http_{status}")).inc()

    def image_loaded(self, source: str, seconds: float) -> None:
        """A request image decoded (`source`: data, url or upload)."""
        self.image_load.labels(source).observe(seconds)

    # --- ServingObserver ----------------------------------------------------------
    def on_generation(self, result: GenerationResult, seconds: float) -> None:
        """One answer generated; `seconds`: the engine call it was part of."""
        self.generation.observe(seconds)
        self.generations.labels(result.finish_reason).inc()
        self.prompt_tokens.inc(result.prompt_tokens)
        self.completion_tokens.inc(result.completion_tokens)

    def on_parse_failure(self, task: str) -> None:
        """An answer of `task` that its parser could not read."""
        self.parse_failures.labels(task).inc()

    def on_boxes(self, task: str, count: int) -> None:
        """`count` boxes returned to a caller of `task`."""
        self.boxes.labels(task).inc(count)


def _error_types() -> dict[int, str]:
    """Each status's `error.type`, from the error classes (one class per status)."""
    found = {404: "not_found", 405: "method_not_allowed"}  # answered by FastAPI's handler
    todo: list[type[errors.APIError]] = [errors.APIError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.status_code, cls.error_type)
        todo.extend(cls.__subclasses__())
    return found


_REASONS = _error_types()


class HTTPMetrics:
    """ASGI middleware: count and time every HTTP request by route template and status.

    Sits outside `RequestLimits`, so the requests it refuses (429, 413, 503) count too.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request; record its route, status and duration when it ends."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self._templates is None:
                self._templates = _templates(scope["app"])  # at startup, not on a request
            await self.app(scope, receive, send)
            return
        status = _DISCONNECTED
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status = 500  # answered by RequestIdMiddleware, outside this one
            raise
        finally:
            seconds = time.perf_counter() - start
            path = scope["path"]
            api = path == "/v1" or path.startswith("/v1/")
            self.metrics.request_done(self._route(scope), scope["method"], status, seconds, api)

    def _route(self, scope: Scope) -> str:
        """The template of the path `scope` asks for; `unmatched` (bounded labels) if none.

        Matched here rather than read from the router: refused requests never reach it.
        """
        if self._templates is None:
            self._templates = _templates(scope["app"])
        path = scope["path"]
        return next((name for regex, name in self._templates if regex.match(path)), "unmatched")


def _templates(app: FastAPI) -> list[tuple[re.Pattern[str], str]]:
    """The app's path templates (`/v1/ground`, `/items/{id}`), each with its regex.

    From the OpenAPI paths, which carry the routers' prefixes, and the top-level routes
    left out of the schema (`/docs`).
    """
    paths = list(app.openapi().get("paths", {}))
    paths += [
        p for p in (getattr(r, "path_format", None) for r in app.routes) if isinstance(p, str)
    ]
    return [(compile_path(p)[0], p) for p in dict.fromkeys(paths)]


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this server (no API key; see `locvlm.api.metrics`)."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)
