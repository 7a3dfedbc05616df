"""`GET /v1/models`: the served model, in the OpenAI list shape (plus what locvlm knows)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from locvlm.adapters import SERVING_TASKS
from locvlm.api.deps import LifecycleDep, ServingDep
from locvlm.api.routes import error_responses
from locvlm_client import ModelCard, ModelList

__all__ = ["model_id", "router"]

router = APIRouter(tags=["models"], responses=error_responses(401, 429, 503))


def model_id(model: str) -> str:
    """The public name of a `Settings.model` value: the folder's name, or `default`."""
    return Path(model).name or "default"


@router.get("/models")
async def list_models(serving: ServingDep, lifecycle: LifecycleDep) -> ModelList:
    """The served model: its family's adapter and tasks, codec, input size, vocabulary."""
    sidecar, adapter = serving.sidecar, serving.adapter
    card = ModelCard(
        id=model_id(lifecycle.settings.model), created=lifecycle.started_at,
        engine=serving.engine.name, preset=sidecar.preset, image_size=sidecar.image_size,
        codec=dict(sidecar.codec), vocabulary=list(sidecar.vocabulary),
        adapter=adapter.name, family=adapter.title,
        tasks=[t for t in SERVING_TASKS if t in adapter.tasks],
        listing=adapter.reads_listing,
    )  # fmt: skip
    return ModelList(data=[card])
