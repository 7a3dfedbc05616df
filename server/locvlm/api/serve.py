"""`locvlm serve`: the REST API with uvicorn, draining on SIGTERM.

    locvlm serve                                   # the model shipped in the package
    locvlm serve --model runs/tiny/model --port 8000
    LOCVLM_API_KEYS=secret locvlm serve --model export/ --host 0.0.0.0

Options override `LOCVLM_*` environment variables (see `locvlm.api.settings`).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from locvlm.api.settings import Settings
from locvlm.engines.factory import engine_names

__all__ = ["serve"]

_ENGINES = engine_names()


def serve(
    model: Annotated[
        str | None,
        typer.Option(help="Checkpoint folder (a training run or an export); default: shipped."),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help=f"Inference engine: {', '.join(_ENGINES)}.")
    ] = None,
    adapter: Annotated[
        str | None,
        typer.Option(help="Model family (e.g. qwen2_5_vl); default: what the checkpoint says."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    if engine is not None and engine not in _ENGINES:
        raise typer.BadParameter(f"expected one of {', '.join(_ENGINES)}", param_hint="--engine")
    given: dict[str, Any] = {
        "model": model, "engine": engine, "adapter": adapter, "host": host, "port": port,
    }  # fmt: skip
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    _check_model(settings)
    if not settings.api_keys and settings.host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"locvlm serve: no LOCVLM_API_KEYS: anyone who reaches {settings.host} "
                   "can use the API", err=True)  # fmt: skip

    import uvicorn

    from locvlm.api.app import create_app
    from locvlm.api.lifecycle import DrainingServer

    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=_log_config(log_level),
        log_level=log_level,
        access_log=False,  # locvlm.api.security logs each request, with its id
        timeout_graceful_shutdown=1,  # after our drain: what is left gets cancelled
    )  # fmt: skip
    lifecycle = app.state.lifecycle
    DrainingServer(config, lifecycle).run()
    if lifecycle.phase == "dead":
        typer.echo("locvlm serve: the engine failed; see the log above", err=True)
        raise typer.Exit(1)


def _check_model(settings: Settings) -> None:
    """Fail before starting the server without a checkpoint, or an adapter for it."""
    model = settings.model
    try:
        settings.engine_config().sidecar()  # reads JSON only: no torch in the HTTP process
    except ValueError as exc:
        typer.echo(f"locvlm serve: {exc}", err=True)
        raise typer.Exit(2) from None
    except FileNotFoundError as exc:
        if model == "default":  # an install without the package's model files
            message = f"the shipped model is missing ({exc}): pass --model DIR"
        else:
            message = f"{exc}; pass --model DIR with a training run or an export"
        typer.echo(f"locvlm serve: {message}", err=True)
        raise typer.Exit(2) from None


def _log_config(level: str) -> dict[str, Any]:
    """The logging config: uvicorn's, with the `locvlm` loggers on its handler too.

    Every line starts with the local time, ISO 8601 with its UTC offset.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for formatter in config["formatters"].values():
        formatter["fmt"] = "%(asctime)s " + formatter["fmt"]
        formatter["datefmt"] = "%Y-%m-%dT%H:%M:%S%z"
    config["loggers"]["locvlm"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config
