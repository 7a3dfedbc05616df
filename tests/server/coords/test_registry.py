import pytest

from locvlm.coords import CODECS, get_codec

ALL_NAMES = {
    "nfp", "ivb", "diga", "shikra", "minigpt_v2", "kosmos2", "qwen2_vl",
    "qwen2_5_vl", "qwen3_vl", "florence2", "paligemma", "cogvlm", "gemini",
}  # fmt: skip


def test_every_issue_name_is_registered() -> None:
    assert set(CODECS) >= ALL_NAMES


def test_unknown_codec_lists_known_names() -> None:
    with pytest.raises(ValueError, match=r"unknown codec 'ivx'.*ivb"):
        get_codec("ivx")


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ivb", {"bin": 10}),  # misspelt parameter
        ("nfp", {"bins": 10}),  # another codec's parameter
    ],
)
def test_bad_parameters_are_value_errors(name: str, params: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=f"bad parameters for codec '{name}'"):
        get_codec(name, **params)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ivb", {"bins": 1}),  # too few bins
        ("nfp", {"decimals": 0}),  # no decimals
        ("diga", {"grid": 7, "bins": 100}),  # bins not a multiple of grid
    ],
)
def test_out_of_range_parameters(name: str, params: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=name):
        get_codec(name, **params)
