"""The server's one settings class: keyword arguments, else `LOCVLM_*` environment variables.

LOCVLM_ENGINE=vllm LOCVLM_MODEL=/models/tiny locvlm serve
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    batch_wait_ms: float = Field(
        5.0, ge=0, description="How long a micro-batch waits for one more request (8x at most)."
    )
    engine_process: bool = Field(
        True,
        description="Run the transformers engine in a child process, so that the server's "
        "Python and the engine's do not take turns on one GIL (bench/api.py: ahead at every "
        "concurrency); false: in the server's process.",
    )
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

    # --- inputs and limits (why: a request must not cost unbounded memory or time) -----
    max_request_bytes: int = Field(
        10 * 1024 * 1024,
        gt=0,
        description="Largest request body; a 7.5 MB image still fits once base64-encoded.",
    )
    max_image_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest image file (decoded base64 or upload)."
    )
    max_image_pixels: int = Field(
        40_000_000,
        gt=0,
        description="Largest width*height, read from the header before decoding (bombs).",
    )
    allowed_image_formats: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["JPEG", "PNG", "WEBP", "GIF", "BMP"],
        description="Pillow format names (env: comma-separated); only these decoders run.",
    )
    max_phrases: int = Field(32, gt=0, description="Most phrases (or categories) per request.")
    max_regions: int = Field(32, gt=0, description="Most regions per describe request.")
    max_phrase_chars: int = Field(
        256, gt=0, description="Longest phrase or question, in characters."
    )
    max_regex_chars: int = Field(
        1024, gt=0, description="Longest chat `structured_outputs` pattern, in characters."
    )
    # image URLs (SSRF: see locvlm.api.fetch)
    fetch_timeout_s: float = Field(
        10.0, gt=0, description="Whole image-URL fetch (DNS, redirects, body); then 504."
    )
    max_fetch_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest image-URL body, counted while streaming."
    )
    max_fetch_redirects: int = Field(
        3, ge=0, description="Redirects followed, each target checked like the first URL."
    )
    url_allowed_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts image URLs may name ('a.com', '*.a.com'; env: comma-separated).",
    )
    allow_private_urls: bool = Field(
        False,
        description="Let image URLs reach loopback/private/link-local hosts. Never in production.",
    )

    # --- HTTP server, security and load (locvlm.api.security, limits, lifecycle) -------
    host: str = Field("127.0.0.1", description="Address `locvlm serve` binds; 0.0.0.0 for all.")
    port: int = Field(8000, ge=0, le=65535, description="Port `locvlm serve` listens on.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Bearer keys every /v1 route requires (env: comma-separated); empty: open.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call from (env: comma-separated); empty: CORS off.",
    )
    max_in_flight: int = Field(
        8, gt=0, description="Concurrent /v1 requests; more get 429 at once (no queue to grow)."
    )
    request_timeout_s: float = Field(
        60.0, gt=0, description="Whole /v1 request, body to answer; then 504, engine work freed."
    )
    drain_timeout_s: float = Field(
        30.0, ge=0, description="After SIGTERM: how long in-flight requests may finish."
    )

    @field_validator(
        "api_keys", "cors_origins", "allowed_image_formats", "url_allowed_domains", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`"a, b"` (an environment variable) -> `["a", "b"]`; lists pass through."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
