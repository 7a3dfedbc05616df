"""The settings: engine names from the one registry, the engine's config built here only."""

import pickle
from dataclasses import fields

import pytest
from pydantic import ValidationError

from locvlm.api import serve
from locvlm.api.fetch import FetchPolicy
from locvlm.api.images import ImageLimits
from locvlm.api.settings import Settings
from locvlm.engines.config import EngineConfig
from locvlm.engines.factory import ENGINES, engine_names
from locvlm.model.sidecar import Sidecar

# A value for every setting the engine gets, none of them its default.
ENGINE_SETTINGS = {
    "engine": "remote", "model": "runs/x/model", "adapter": "qwen2_5_vl", "dtype": "bfloat16",
    "max_new_tokens": 7,
    "threads": 3, "max_batch": 5, "batch_wait_ms": 1.5, "batching": "continuous",
    "engine_process": False,
    "max_model_len": 1024, "max_num_seqs": 4, "tensor_parallel_size": 2,
    "gpu_memory_utilization": 0.5, "enforce_eager": False,
    "remote_urls": ["http://a:8000", "http://b:8000"], "remote_model": "tiny",
    "remote_timeout_s": 9.0, "remote_retries": 5, "remote_eject_s": 4.0,
}  # fmt: skip


@pytest.mark.parametrize("name", engine_names())
def test_every_registered_engine_is_a_valid_setting(name: str) -> None:
    assert Settings(engine=name).engine_config().kind == name


@pytest.mark.parametrize(
    "name",
    [
        "tgi",  # not an engine
        "transformers-process",  # a placement of transformers (engine_process), not an engine
    ],
)
def test_other_names_are_refused_with_the_registrys_list(name: str) -> None:
    with pytest.raises(ValidationError, match="known: auto, vllm, transformers, remote"):
        Settings(engine=name)


def test_the_command_line_offers_the_registrys_names() -> None:
    assert engine_names() == serve._ENGINES == ("auto", *ENGINES)


def test_the_engine_config_carries_every_engine_setting() -> None:
    config, default = Settings(**ENGINE_SETTINGS).engine_config(), EngineConfig()
    same = [f.name for f in fields(config) if getattr(config, f.name) == getattr(default, f.name)]
    assert same == []
    assert (config.kind, config.child_process) == ("remote", False)
    assert config.remote_urls == ("http://a:8000", "http://b:8000")


def test_the_engine_config_holds_nothing_of_the_http_server() -> None:
    settings = Settings(api_keys=["s3cret-key"], cors_origins=["https://app.example"])
    sent = pickle.dumps(settings.engine_config())  # what the child process receives
    assert b"s3cret-key" not in sent
    assert b"app.example" not in sent


def test_defaults_come_from_the_objects_that_use_them() -> None:
    settings = Settings()
    assert settings.engine_config() == EngineConfig()
    assert ImageLimits.from_settings(settings) == ImageLimits()
    assert FetchPolicy.from_settings(settings) == FetchPolicy()


def test_the_listing_and_tiles_settings_override_the_checkpoints_sidecar() -> None:
    plain = Sidecar(codec={"name": "ivb", "bins": 32}, preset="tiny", image_size=64)
    shipped = plain.replace(listing=True, grounds_from="answer", grounds_in_tiles=True,
                            detects_in_tiles=True)  # fmt: skip
    assert Settings().served(shipped) == shipped  # unset: the checkpoint's own
    whole = Settings(tiles=False).served(shipped)
    assert (whole.detects_in_tiles, whole.grounds_in_tiles, whole.listing) == (False, False, True)
    assert Settings(listing=False).served(shipped).listing is False
    tiled = Settings(tiles=True).served(plain)
    assert (tiled.detects_in_tiles, tiled.grounds_in_tiles) == (True, True)
