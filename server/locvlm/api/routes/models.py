"""`GET /v1/models`: the served model, in the OpenAI list shape (plus what locvlm knows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from locvlm.api.deps import LifecycleDep, ServingDep
from locvlm.api.routes import error_responses

__all__ = ["ModelCard", "ModelList", "model_id", "router"]

router = APIRouter(tags=["models"], responses=error_responses(401, 429, 503))


class ModelCard(BaseModel):
    """One served model."""

    id: str = Field(description="The name to pass as `model` (the checkpoint folder's name).")
    object: Literal["model"] = "model"
    created: int = Field(description="When this server loaded it (Unix seconds).")
    owned_by: str = "locvlm"
    engine: str = Field(description="The engine serving it: transformers, vllm or remote.")
    preset: str = Field(description="The model preset it was trained from.")
    image_size: int = Field(description="The square input side the model sees, in pixels.")
    codec: dict[str, Any] = Field(description="How the model writes coordinates.")
    vocabulary: list[str] = Field(description="The categories it knows (empty: open).")


class ModelList(BaseModel):
    """The models this server answers with (one)."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


def model_id(model: str) -> str:
    """The public name of a `Settings.model` value: the folder's name, or `default`."""
    return Path(model).name or "default"


@router.get("/models")
async def list_models(serving: ServingDep, lifecycle: LifecycleDep) -> ModelList:
    """The served model with its codec, input size and vocabulary."""
    sidecar = serving.sidecar
    card = ModelCard(
        id=model_id(lifecycle.settings.model), created=lifecycle.started_at,
        engine=serving.engine.name, preset=sidecar.preset, image_size=sidecar.image_size,
        codec=dict(sidecar.codec), vocabulary=list(sidecar.vocabulary),
    )  # fmt: skip
    return ModelList(data=[card])
