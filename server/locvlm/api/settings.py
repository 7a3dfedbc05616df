"""The server's one settings class: keyword arguments, else `LOCVLM_*` environment variables.

LOCVLM_ENGINE=vllm LOCVLM_MODEL=/models/tiny locvlm serve

The engine's part goes to the engine as an `EngineConfig` (`Settings.engine_config`, the
one place it is built); the rest stays with the HTTP server. Defaults are not written
here twice: they come from the objects that use them (`EngineConfig`, `ImageLimits`,
`FetchPolicy`), where each says why it is what it is.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from locvlm.api.fetch import FetchPolicy
from locvlm.api.images import ImageLimits
from locvlm.api.video import VideoLimits
from locvlm.engines.config import EngineConfig
from locvlm.engines.factory import engine_names
from locvlm.model.sidecar import Sidecar

__all__ = ["Settings"]

_ENGINE = EngineConfig()
_IMAGE = ImageLimits()
_VIDEO = VideoLimits()
_FETCH = FetchPolicy()


class Settings(BaseSettings):
    """Everything the server, its engine and its limits are configured with."""

    model_config = SettingsConfigDict(env_prefix="LOCVLM_", extra="ignore", frozen=True)

    # --- model and engine (locvlm.engines.config) ----------------------------------
    model: str = Field(_ENGINE.model, description="Checkpoint folder, or 'default' (shipped).")
    adapter: str | None = Field(
        _ENGINE.adapter,
        description="Model family (qwen2_5_vl, paligemma, ...); default: the checkpoint's "
        "locvlm.json, else config.json's model_type.",
    )
    engine: str = Field(
        _ENGINE.kind,
        description=f"One of {', '.join(engine_names())}; auto: vLLM if it imports and "
        "starts, else transformers.",
    )
    dtype: str = Field(
        _ENGINE.dtype, description="Weights dtype for the engine (float32/bfloat16/float16)."
    )
    max_new_tokens: int = Field(_ENGINE.max_new_tokens, gt=0, description="Longest answer.")
    # transformers engine
    threads: int = Field(_ENGINE.threads, gt=0, description="torch threads of the engine.")
    max_batch: int = Field(
        _ENGINE.max_batch, gt=0, description="Largest micro-batch the engine forms."
    )
    batch_wait_ms: float = Field(
        _ENGINE.batch_wait_ms,
        ge=0,
        description="How long a micro-batch waits for one more request (8x at most).",
    )
    batching: Literal["micro", "continuous"] = Field(
        _ENGINE.batching,
        description="How the transformers engine batches: micro (a batch runs to its end) "
        "or continuous (requests join the running rows between decode steps; our LLaVA "
        "checkpoints only, others micro-batch).",
    )
    listing: bool | None = Field(
        None,
        description="Read the scene from the model's listing of every object, asked once an "
        "image: /v1/ground takes each phrase's boxes from it, /v1/describe each region's "
        "relation (our checkpoints trained on the detect task get both right more often "
        "that way); false: one question per phrase or region. Default: the checkpoint's "
        "locvlm.json.",
    )
    tiles: bool | None = Field(
        None,
        description="Ask about a non-square image's three square crops too: /v1/detect lists "
        "them beside the whole image, /v1/ground reads its phrases from that detection "
        "(the shipped checkpoint: detection precision/recall 0.947/0.950 -> 0.968/0.976, "
        "grounding 0.935 -> 0.954 on held-out scenes); false: the whole image only, a "
        "one-phrase /v1/ground ~4x the throughput at 4 clients "
        "(bench/results/tiles-latency.md). Default: the checkpoint's locvlm.json "
        "(detects_in_tiles, grounds_in_tiles).",
    )
    detect_second_look: bool = Field(
        True,
        description="/v1/detect's default for a request that does not set second_look: "
        "also ask the model about each category on its own, in the same engine call, and "
        "add what the listing missed (recall 0.896 -> 0.950 for the shipped checkpoint; "
        "one more short answer per category, bench/results/detect-latency.md).",
    )
    engine_process: bool = Field(
        _ENGINE.child_process,
        description="Run the transformers engine in a child process, so that the server's "
        "Python and the engine's do not take turns on one GIL (bench/api.py: ahead at every "
        "concurrency); false: in the server's process.",
    )
    # vLLM engine
    max_model_len: int = Field(_ENGINE.max_model_len, gt=0)
    max_num_seqs: int = Field(_ENGINE.max_num_seqs, gt=0)
    tensor_parallel_size: int = Field(_ENGINE.tensor_parallel_size, gt=0)
    gpu_memory_utilization: float = Field(
        _ENGINE.gpu_memory_utilization,
        gt=0,
        le=1,
        description="On CPU: share of host RAM for KV cache.",
    )
    enforce_eager: bool = _ENGINE.enforce_eager
    # remote engine
    remote_urls: list[str] = Field(
        default_factory=lambda: list(_ENGINE.remote_urls),
        description="OpenAI-compatible base URLs.",
    )
    remote_model: str | None = Field(
        _ENGINE.remote_model, description="Model name to request (default: the first listed)."
    )
    remote_timeout_s: float = Field(_ENGINE.remote_timeout_s, gt=0)
    remote_retries: int = Field(
        _ENGINE.remote_retries, ge=0, description="Retries on connection errors only."
    )
    remote_eject_s: float = Field(
        _ENGINE.remote_eject_s, gt=0, description="How long a failing replica is skipped."
    )

    # --- inputs and limits (why: a request must not cost unbounded memory or time) -----
    max_request_bytes: int = Field(
        10 * 1024 * 1024,
        gt=0,
        description="Largest request body; a 7.5 MB image still fits once base64-encoded.",
    )
    max_image_bytes: int = Field(
        _IMAGE.max_bytes, gt=0, description="Largest image file (decoded base64 or upload)."
    )
    max_image_pixels: int = Field(
        _IMAGE.max_pixels,
        gt=0,
        description="Largest width*height, read from the header before decoding (bombs).",
    )
    max_decoded_pixels: int = Field(
        2 * _IMAGE.max_pixels,
        gt=0,
        description="Decoded pixels all in-flight requests hold at once (a request waits for "
        "its image's); image memory stays under 8 bytes a pixel of it (locvlm.api.pixel_budget).",
    )
    allowed_image_formats: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(_IMAGE.formats),
        description="Pillow format names (env: comma-separated); only these decoders run.",
    )
    max_video_bytes: int = Field(
        _VIDEO.max_bytes, gt=0, description="Largest video file (GIF, WebP, MP4; base64 or upload)."
    )
    max_video_frames: int = Field(
        _VIDEO.max_frames, gt=0, description="Most frames in a clip (a file or a frame list)."
    )
    max_video_seconds: float = Field(
        _VIDEO.max_seconds, gt=0, description="Longest clip, by its file's frame timing."
    )
    max_video_pixels: int = Field(
        _VIDEO.max_pixels,
        gt=0,
        description="Most pixels of all of a clip's frames together (at most max_decoded_pixels).",
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
        _FETCH.timeout_s,
        gt=0,
        description="Whole image-URL fetch (DNS, redirects, body); then 504.",
    )
    max_fetch_bytes: int = Field(
        _FETCH.max_bytes, gt=0, description="Largest image-URL body, counted while streaming."
    )
    max_fetch_redirects: int = Field(
        _FETCH.max_redirects,
        ge=0,
        description="Redirects followed, each target checked like the first URL.",
    )
    url_allowed_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(_FETCH.allowed_domains),
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
    engine_restarts: int = Field(
        3,
        ge=0,
        description="A dead engine is restarted this many times (/readyz 503 meanwhile); "
        "one more death and the server exits. An engine that serves 5 min resets the count.",
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

    @field_validator("adapter")
    @classmethod
    def _known_adapter(cls, value: str | None) -> str | None:
        """A family `locvlm.adapters.ADAPTERS` lists, or None (the checkpoint's own)."""
        from locvlm.adapters import ADAPTERS

        if value is not None and value not in ADAPTERS:
            raise ValueError(f"unknown adapter {value!r}; known: {', '.join(sorted(ADAPTERS))}")
        return value

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        """One of the engines `locvlm.engines.factory.ENGINES` lists, or auto."""
        if value not in engine_names():
            raise ValueError(f"unknown engine {value!r}; known: {', '.join(engine_names())}")
        return value

    @model_validator(mode="after")
    def _one_image_fits_the_budget(self) -> Settings:
        """An image at the pixel limit fits the decoded-pixel budget (or it waits for ever)."""
        if self.max_image_pixels > self.max_decoded_pixels:
            raise ValueError("max_image_pixels must not exceed max_decoded_pixels")
        if self.max_video_pixels > self.max_decoded_pixels:  # a clip fits the budget too
            object.__setattr__(self, "max_video_pixels", self.max_decoded_pixels)
        return self

    def served(self, sidecar: Sidecar) -> Sidecar:
        """The checkpoint's `sidecar` with this server's overrides (`listing`, `tiles`)."""
        if self.listing is not None:
            sidecar = sidecar.replace(listing=self.listing)
        if self.tiles is not None:
            sidecar = sidecar.replace(detects_in_tiles=self.tiles, grounds_in_tiles=self.tiles)
        return sidecar

    def engine_config(self) -> EngineConfig:
        """What the engine is built from: this, less everything of the HTTP server's."""
        return EngineConfig(
            kind=self.engine, model=self.model, adapter=self.adapter, dtype=self.dtype,
            max_new_tokens=self.max_new_tokens, threads=self.threads,
            max_batch=self.max_batch, batch_wait_ms=self.batch_wait_ms,
            batching=self.batching, child_process=self.engine_process,
            max_model_len=self.max_model_len, max_num_seqs=self.max_num_seqs,
            tensor_parallel_size=self.tensor_parallel_size,
            gpu_memory_utilization=self.gpu_memory_utilization,
            enforce_eager=self.enforce_eager, remote_urls=tuple(self.remote_urls),
            remote_model=self.remote_model, remote_timeout_s=self.remote_timeout_s,
            remote_retries=self.remote_retries, remote_eject_s=self.remote_eject_s,
        )  # fmt: skip
