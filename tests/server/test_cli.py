import json

import pytest
from typer.testing import CliRunner

from locvlm.cli import app

runner = CliRunner()


def test_coords_decode_prints_json_boxes_in_original_pixels() -> None:
    result = runner.invoke(app, ["coords", "decode", "-c", "ivb", "-s", "640x480", "[1, 2, 3, 4]"])
    assert result.exit_code == 0, result.output
    (box,) = json.loads(result.output)
    assert box["x1"] == pytest.approx(9.6)
    assert box["y2"] == pytest.approx(21.6)


def test_coords_decode_reads_stdin() -> None:
    result = runner.invoke(
        app, ["coords", "decode", "-c", "nfp", "-s", "10x10"], input="[0.1,0.2,0.3,0.4]"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["x2"] == pytest.approx(3.0)


def test_coords_encode_with_params() -> None:
    args = ["coords", "encode", "-c", "ivb", "-p", "bins=32", "-s", "640x480", "10,20,300,400"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "[0, 1, 15, 26]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["coords", "decode", "-c", "ivb", "-s", "0x4", "x"], "WIDTHxHEIGHT"),  # zero size
        (["coords", "decode", "-c", "nope", "-s", "4x4", "x"], "unknown codec"),  # bad codec
        (["coords", "encode", "-c", "ivb", "-s", "4x4", "1,2,3"], "bad box"),  # three numbers
        (["coords", "encode", "-c", "ivb", "-s", "4x4", "0,0,9,9"], "outside"),  # outside image
        (
            ["coords", "encode", "-c", "ivb", "-p", "bins", "-s", "4x4", "0,0,1,1"],
            "KEY=VALUE",
        ),  # bad param
    ],
)
def test_coords_errors_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_demo_and_list_show_every_codec() -> None:
    from locvlm.coords import CODECS

    for command in (["coords", "demo"], ["coords", "list"]):
        result = runner.invoke(app, command, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        for name in CODECS:
            assert name in result.output
