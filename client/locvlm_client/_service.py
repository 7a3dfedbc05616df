"""Bodies of the service routes: liveness, readiness and the model list.

Shared by the server (which answers with them) and the SDK (which parses them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["EngineState", "Health", "ModelCard", "ModelList", "Phase", "Readiness"]

Phase = Literal["loading", "ready", "draining", "dead"]


class Health(BaseModel):
    """Liveness."""

    status: str = Field(description="`ok`, or `dead` when the engine has failed for good.")


class EngineState(BaseModel):
    """The engine's queue and counters."""

    name: str
    queued: int
    running: int
    finished: int
    details: dict[str, float] = Field(description="Engine-specific counters.")


class Readiness(BaseModel):
    """Readiness: 200 only while ready."""

    status: Phase
    in_flight: int = Field(description="/v1 requests being served now.")
    engine: EngineState | None = None

    @property
    def ready(self) -> bool:
        """Whether the server takes requests now."""
        return self.status == "ready"


class ModelCard(BaseModel):
    """One served model."""

    id: str = Field(description="The name to pass as `model` (the checkpoint folder's name).")
    object: Literal["model"] = "model"
    created: int = Field(description="When this server loaded it (Unix seconds).")
    owned_by: str = "locvlm"
    engine: str = Field(description="The engine serving it: transformers, vllm or remote.")
    preset: str = Field(description="The model preset it was trained from.")
    image_size: int = Field(
        description="The square input side the model sees, in pixels (0: its processor resizes)."
    )
    codec: dict[str, Any] = Field(description="How the model writes coordinates.")
    vocabulary: list[str] = Field(description="The categories it knows (empty: open).")
    adapter: str = Field(
        "locvlm", description="The model family's adapter (locvlm, qwen2_5_vl, paligemma, ...)."
    )
    family: str = Field(
        "LocVLM (LLaVA-1.5)", description="The model family, as named by its authors."
    )
    tasks: list[str] = Field(
        default_factory=lambda: ["ground", "detect", "describe", "spatial"],
        description="The structured endpoints it serves; the others answer 400.",
    )
    listing: bool = Field(
        False,
        description="Whether the server reads the scene from the model's listing of every "
        "object, asked once an image: /v1/ground takes each phrase's boxes from it (each "
        "result's `raw` is that listing), /v1/describe each region's relation.",
    )


class ModelList(BaseModel):
    """The models this server answers with (one)."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
