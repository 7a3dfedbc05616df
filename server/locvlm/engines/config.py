"""`EngineConfig`: everything an engine is built from, and nothing of the HTTP server's.

    config = EngineConfig(kind="transformers", model="runs/tiny/model", threads=1)
    async with open_engine(config) as engine:
        ...

The server builds it from its settings in one place (`Settings.engine_config`); the
process engine sends it, and only it, to its child (no API keys cross). Its defaults
are the server's defaults: its settings class takes them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

__all__ = ["EngineConfig"]

if TYPE_CHECKING:
    from locvlm.model.sidecar import Sidecar


@dataclass(frozen=True)
class EngineConfig:
    """What engines need: the checkpoint, generation limits and each engine's own knobs."""

    # --- every engine ----------------------------------------------------------------
    kind: str = "auto"  # a name in `factory.ENGINES`; auto: vLLM if it starts, else transformers
    model: str = "default"  # checkpoint folder; "default": the one shipped in the package
    adapter: str | None = None  # model family (`locvlm.adapters`); None: the checkpoint's
    dtype: str = "float32"  # CPU default; bfloat16 halves memory where the hardware has it
    max_new_tokens: int = 96  # the longest answer generated; callers may ask for less
    # --- transformers ----------------------------------------------------------------
    threads: int = 2  # torch threads of the transformers engine
    max_batch: int = 32  # rows in one micro-batch: a /v1/detect request's 25 fit in one
    batch_wait_ms: float = 5.0  # a quiet wait for one more request; 8 of them at most
    # micro: a batch runs to its end; continuous: requests join the running rows between steps
    batching: Literal["micro", "continuous"] = "micro"
    child_process: bool = True  # own process, own GIL: ahead at every concurrency (bench/api.py)
    # --- vLLM ------------------------------------------------------------------------
    max_model_len: int = 512  # prompt and answer tokens vLLM reserves room for
    max_num_seqs: int = 32  # requests one scheduler step may hold
    tensor_parallel_size: int = 1  # one GPU (or one CPU socket)
    gpu_memory_utilization: float = 0.25  # the KV cache's share; on a CPU, of host RAM
    enforce_eager: bool = True  # no CUDA graphs: they cost start-up time and memory
    # --- remote ----------------------------------------------------------------------
    remote_urls: tuple[str, ...] = ()  # OpenAI-compatible base URLs, round-robin
    remote_model: str | None = None  # model name to request; None: the first one listed
    remote_timeout_s: float = 60.0  # one answer; a timed-out request is not retried
    remote_retries: int = 2  # retries on connection errors only, each on the next replica
    remote_eject_s: float = 30.0  # how long a replica that failed to connect is skipped

    def sidecar(self) -> Sidecar:
        """The served model's sidecar, with `adapter` applied (`adapters.read_sidecar`).

        Raises:
            FileNotFoundError: no checkpoint at `model`.
            ValueError: a malformed checkpoint, or no adapter for it.
        """
        from locvlm.adapters import read_sidecar
        from locvlm.model.sidecar import resolve_model_dir

        return read_sidecar(resolve_model_dir(self.model), self.adapter)
