"""Which adapter a checkpoint gets: `locvlm.json`, else `config.json`, else `--adapter`."""

from __future__ import annotations

import json

import pytest

from locvlm.adapters import ADAPTERS, get_adapter, read_sidecar
from locvlm.model.sidecar import Sidecar


def _stock(tmp_path, model_type: str, **extra):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type, **extra}))
    return tmp_path


@pytest.mark.parametrize(
    ("model_type", "adapter"),
    [("qwen2_vl", "qwen2_vl"), ("qwen2_5_vl", "qwen2_5_vl"), ("qwen3_vl", "qwen3_vl"),
     ("paligemma", "paligemma"), ("florence2", "florence2"), ("kosmos-2", "kosmos2"),
     ("llava", "locvlm")],
)  # fmt: skip
def test_a_stock_checkpoint_gets_its_family_from_model_type(tmp_path, model_type, adapter):
    sidecar = read_sidecar(_stock(tmp_path, model_type))
    assert sidecar.adapter == adapter
    assert sidecar.codec == {"name": ADAPTERS[adapter].codec_name}
    assert get_adapter(sidecar).name == adapter


def test_a_stock_llava_keeps_its_square_input(tmp_path):
    sidecar = read_sidecar(_stock(tmp_path, "llava", vision_config={"image_size": 336}))
    assert (sidecar.image_size, sidecar.vocabulary) == (336, [])  # open vocabulary
    assert read_sidecar(_stock(tmp_path, "qwen2_vl")).image_size == 0  # the processor resizes


def test_locvlm_json_wins_over_config_json(tmp_path):
    _stock(tmp_path, "qwen2_vl")
    Sidecar(codec={"name": "ivb", "bins": 32}, preset="tiny", image_size=64).write(tmp_path)
    sidecar = read_sidecar(tmp_path)
    assert (sidecar.adapter, sidecar.codec["name"]) == ("locvlm", "ivb")


def test_the_override_picks_the_family_and_its_codec(tmp_path):
    sidecar = read_sidecar(_stock(tmp_path, "some_finetune"), adapter="qwen2_5_vl")
    assert (sidecar.adapter, sidecar.codec) == ("qwen2_5_vl", {"name": "qwen2_5_vl"})


def test_an_unknown_model_type_says_how_to_pick_an_adapter(tmp_path):
    with pytest.raises(ValueError, match=r"model_type 'mystery'.*--adapter"):
        read_sidecar(_stock(tmp_path, "mystery"))


def test_an_unknown_adapter_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown adapter 'gpt'.*qwen2_5_vl"):
        read_sidecar(_stock(tmp_path, "qwen2_vl"), adapter="gpt")


def test_no_checkpoint_is_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_sidecar(tmp_path)


def test_old_sidecars_without_an_adapter_are_ours(tmp_path):
    data = {"codec": {"name": "nfp"}, "preset": "tiny", "image_size": 64}
    (tmp_path / "locvlm.json").write_text(json.dumps(data))
    assert read_sidecar(tmp_path).adapter == "locvlm"
