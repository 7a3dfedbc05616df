"""The server's one settings class: keyword arguments, else `LOCVLM_*` environment variables.

LOCVLM_ENGINE=vllm LOCVLM_MODEL=/models/tiny locvlm serve
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["EngineKind", "Settings"]

EngineKind = Literal["auto", "vllm", "transformers", "remote"]


class Settings(BaseSettings):
    """Everything the server, its engine and its limits are configured with."""

    model_config = SettingsConfigDict(env_prefix="LOCVLM_", extra="ignore", frozen=True)

    # --- model and engine ----------------------------------------------------------
    model: str = Field("default", description="Checkpoint folder, or 'default' (shipped).")
    engine: EngineKind = Field(
        "auto", description="auto: vLLM if it imports and starts, else transformers."
    )
    dtype: str = Field(
        "float32", description="Weights dtype for the engine (float32/bfloat16/float16)."
    )
    max_new_tokens: int = Field(96, gt=0, description="Longest answer generated.")
    # transformers engine
    threads: int = Field(2, gt=0, description="torch threads of the transformers engine.")
    max_batch: int = Field(
        16, gt=0, description="Largest micro-batch the transformers engine forms."
    )
    batch_wait_ms: float = Field(5.0, ge=0, description="How long a micro-batch waits to fill.")
    # vLLM engine
    max_model_len: int = Field(512, gt=0)
    max_num_seqs: int = Field(32, gt=0)
    tensor_parallel_size: int = Field(1, gt=0)
    gpu_memory_utilization: float = Field(
        0.25, gt=0, le=1, description="On CPU: share of host RAM for KV cache."
    )
    enforce_eager: bool = True
    # remote engine
    remote_urls: list[str] = Field(default_factory=list, description="OpenAI-compatible base URLs.")
    remote_model: str | None = Field(
        None, description="Model name to request (default: the first listed)."
    )
    remote_timeout_s: float = Field(60.0, gt=0)
    remote_retries: int = Field(2, ge=0, description="Retries on connection errors only.")
    remote_eject_s: float = Field(30.0, gt=0, description="How long a failing replica is skipped.")
