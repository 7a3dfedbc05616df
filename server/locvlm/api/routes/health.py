"""`GET /healthz` (the process lives) and `GET /readyz` (the engine serves), no auth."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from locvlm.api.deps import LifecycleDep
from locvlm_client import EngineState, Health, Readiness

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The engine is dead."}},
)
async def healthz(lifecycle: LifecycleDep) -> JSONResponse:
    """200 while the process can serve or get there; 503 once the engine is dead."""
    dead = lifecycle.phase == "dead"
    body = Health(status="dead" if dead else "ok")
    return JSONResponse(body.model_dump(), status_code=503 if dead else 200)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Loading, draining or dead."}},
)
async def readyz(lifecycle: LifecycleDep) -> JSONResponse:
    """200 when the engine is up and the server is not draining; else 503."""
    engine = None
    if lifecycle.serving is not None:
        eng = lifecycle.serving.engine
        stats = eng.stats()
        engine = EngineState(name=eng.name, queued=stats.queued, running=stats.running,
                             finished=stats.finished, details=stats.details)  # fmt: skip
    body = Readiness(status=lifecycle.phase, in_flight=lifecycle.in_flight, engine=engine)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ready" else 503)
