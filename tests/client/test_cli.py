"""`locvlm-client` against a real server: output, --json, --draw and the exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from locvlm.data.clips import render_clip
from locvlm.data.shapes import ShapesConfig
from locvlm_client.cli import NOT_FOUND, OK, REJECTED, UNAVAILABLE, USAGE, main
from tests.server.api.clips import animated
from tests.server.api.live import API_KEY, LiveServer, free_port, scene, shared_server

IMAGE, OBJECTS = scene((160, 96))


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request)


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "scene.png"
    IMAGE.save(path)
    return path


def _cli(server: LiveServer, *args: str) -> list[str]:
    return ["--base-url", server.url, "--api-key", API_KEY, *args]


def test_ground_json_and_draw(server: LiveServer, image_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "drawn.png"
    phrase = OBJECTS[0].category
    code = main(_cli(server, "ground", str(image_file), phrase, "--json", "--draw", str(out)))
    answer = json.loads(capsys.readouterr().out)
    found = all(r["found"] for r in answer["results"])
    assert code == (OK if found else NOT_FOUND)
    assert answer["results"][0]["phrase"] == phrase
    assert Image.open(out).size == (160, 96)


def test_text_output_of_each_command(server: LiveServer, image_file: Path, capsys) -> None:
    box = ",".join(str(v) for v in OBJECTS[0].box.to_xyxy())
    assert main(_cli(server, "describe", str(image_file), "--box", box)) == OK
    assert capsys.readouterr().out.startswith("[")
    assert (
        main(_cli(server, "ask", str(image_file), "Is the red circle left of the blue square?"))
        == OK
    )
    assert capsys.readouterr().out.strip()  # yes/no, or the raw text a weak model wrote
    assert main(_cli(server, "detect", str(image_file), "--category", "red circle",
                     "--no-second-look")) == OK  # fmt: skip
    capsys.readouterr()
    assert main(_cli(server, "models", "--json")) == OK
    assert json.loads(capsys.readouterr().out)["object"] == "list"
    assert main(_cli(server, "health")) == OK


def test_stdin_image(server: LiveServer, image_file: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "locvlm_client.cli",
        *_cli(server, "ground", "-", "red circle", "--json"),
    ]
    done = subprocess.run(command, input=image_file.read_bytes(), capture_output=True, timeout=120)
    assert done.returncode in (OK, NOT_FOUND), done.stderr
    assert json.loads(done.stdout)["image_size"] == {"width": 160, "height": 96}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["describe", "IMG", "--box", "1,2,3"], USAGE, "x1,y1,x2,y2"),
        (["ground", "/no/such.png", "red circle"], USAGE, "no image file"),
        (["ground", "BYTES", "red circle"], REJECTED, "415"),
    ],
)
def test_exit_codes(
    server: LiveServer, image_file: Path, tmp_path: Path, capsys, args, code, message
) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    args = [str(image_file) if a == "IMG" else str(junk) if a == "BYTES" else a for a in args]
    assert main(_cli(server, *args)) == code
    assert message in capsys.readouterr().err


def test_auth_and_unreachable_servers(server: LiveServer, image_file: Path, capsys) -> None:
    wrong_key = ["--base-url", server.url, "--api-key", "wrong", "models"]
    assert main(wrong_key) == REJECTED
    assert "401" in capsys.readouterr().err
    nowhere = ["--base-url", f"http://127.0.0.1:{free_port()}", "--max-retries", "0", "health"]
    assert main(nowhere) == UNAVAILABLE
    assert "cannot reach" in capsys.readouterr().err


def test_video_commands_take_a_file_or_a_folder_of_frames(
    server: LiveServer, tmp_path: Path, capsys
) -> None:
    frames, objects = render_clip((5, 1), 8, ShapesConfig(size=(160, 96)))
    phrase = objects[0][0].category
    gif = tmp_path / "clip.gif"
    gif.write_bytes(animated(frames, "GIF"))
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        frame.save(folder / f"{i:02}.png")

    code = main(_cli(server, "track", str(gif), phrase, "--json"))
    answer = json.loads(capsys.readouterr().out)
    assert answer["frames"] == 8
    found = any(t["label"] == phrase and any(answer_box for answer_box in t["boxes"])
                for t in answer["tracks"])  # fmt: skip
    assert code == (OK if found else NOT_FOUND)
    main(_cli(server, "track", str(folder), phrase))  # the same clip as frames: text lines
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["no tracks"] or all(line.startswith(f"{phrase} #") for line in lines), lines
    assert main(_cli(server, "ask-video", str(folder), f"Which way does the {phrase} move?")) == OK
    assert capsys.readouterr().out.strip()  # the answer, then its evidence tracks
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_cli(server, "track", str(empty), phrase)) == USAGE
    assert "no frame images" in capsys.readouterr().err
