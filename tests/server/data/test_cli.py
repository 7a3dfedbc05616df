from pathlib import Path

from typer.testing import CliRunner

from locvlm.cli import app
from locvlm.data.coco import load_coco

runner = CliRunner()


def test_shapes_command_writes_a_loadable_dataset(tmp_path: Path) -> None:
    out = tmp_path / "D"
    result = runner.invoke(
        app, ["data", "shapes", "--n", "12", "--seed", "1", "--size", "96x64", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    dataset = load_coco(out / "annotations.json")
    assert {(i.width, i.height) for i in dataset.images} == {(96, 64)}


def test_random_sizes(tmp_path: Path) -> None:
    out = tmp_path / "D"
    result = runner.invoke(
        app, ["data", "shapes", "--n", "10", "--size", "random", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len({(i.width, i.height) for i in load_coco(out / "annotations.json").images}) > 1


def test_clips_command(tmp_path: Path) -> None:
    out = tmp_path / "C"
    result = runner.invoke(app, ["data", "clips", "--n", "2", "--frames", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(load_coco(out / "annotations.json").images) == 16


def test_bad_size_and_existing_output_are_clear_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "shapes", "--size", "2000", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "48..1024" in result.output
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "f").write_text("")
    result = runner.invoke(app, ["data", "shapes", "--out", str(tmp_path / "y")])
    assert result.exit_code == 2
    assert "not empty" in result.output
