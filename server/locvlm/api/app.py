"""The FastAPI app: settings, lifespan (the engine), routers, error handlers, middleware.

    uvicorn --factory locvlm.api.app:create_app     # settings from LOCVLM_* variables
    locvlm serve --model runs/tiny/model            # the same, with a drain on SIGTERM

OpenAPI docs at `/docs`, the schema at `/openapi.json`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from locvlm import __version__
from locvlm.api.deps import REQUIRE_API_KEY
from locvlm.api.errors import (
    DOMAIN_ERRORS,
    APIError,
    InvalidRequestError,
    from_domain,
    render_error,
    validation_error,
)
from locvlm.api.lifecycle import Lifecycle
from locvlm.api.limits import RequestLimits
from locvlm.api.metrics import HTTPMetrics, Metrics
from locvlm.api.metrics import router as metrics_router
from locvlm.api.routes import (
    chat,
    describe,
    detect,
    ground,
    health,
    models,
    playground,
    spatial,
    video,
)
from locvlm.api.security import RequestIdMiddleware, add_cors
from locvlm.api.settings import Settings
from locvlm.engines.errors import EngineDeadError
from locvlm_client import ErrorBody, ErrorResponse

__all__ = ["create_app"]

_log = logging.getLogger("locvlm.api")

_DESCRIPTION = """Grounding, region description, spatial questions and detection with a
spatially aware vision-language model. Boxes are in the original image's pixels (EXIF
orientation applied), or normalized to it with `coords="normalized"`. Every error answers
`{"error": {"type", "message", "param"}}`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings` (default: from `LOCVLM_*` environment variables)."""
    settings = settings or Settings()
    lifecycle = Lifecycle(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with lifecycle.running():
            yield

    # Swagger UI and ReDoc from the files of the fastapi-offline package, not a CDN: the
    # docs work on an air-gapped machine.
    app = FastAPIOffline(
        title="locvlm", version=__version__, description=_DESCRIPTION, lifespan=lifespan
    )
    app.state.settings, app.state.lifecycle = settings, lifecycle
    lifecycle.observer = app.state.metrics = Metrics(lifecycle)
    app.include_router(health.router)
    app.include_router(metrics_router)  # GET /metrics: open like /healthz
    app.include_router(playground.router)  # GET /: the page, open like /healthz
    for module in (ground, describe, spatial, detect, video, models, chat):
        app.include_router(module.router, prefix="/v1", dependencies=[REQUIRE_API_KEY])
    _add_error_handlers(app)
    # Added innermost first: request id (outermost) -> CORS -> metrics -> limits -> routes.
    app.add_middleware(RequestLimits, lifecycle=lifecycle)
    app.add_middleware(HTTPMetrics, metrics=app.state.metrics)
    add_cors(app, settings)
    app.add_middleware(RequestIdMiddleware)
    return app


def _answer(error: APIError) -> JSONResponse:
    status, body, headers = render_error(error)
    return JSONResponse(body, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error in the one shape; nothing internal in any of them.

    Serving's and the engines' errors are answered as `errors.from_domain` says. Unhandled
    exceptions (bugs) are answered by `RequestIdMiddleware`, which logs them with the
    request id.
    """

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, APIError)
        return _answer(exc)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _answer(InvalidRequestError("the body is not valid JSON", param="body"))
        return _answer(validation_error(errors))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = ErrorResponse(error=ErrorBody(type=kind, message=str(exc.detail)))
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        level = logging.ERROR if isinstance(exc, EngineDeadError) else logging.INFO
        _log.log(level, "request_id=%s: %s: %s", _request_id(request), type(exc).__name__, exc)
        return _answer(from_domain(exc))

    app.add_exception_handler(APIError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    for kind in DOMAIN_ERRORS:
        app.add_exception_handler(kind, domain_error)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))
