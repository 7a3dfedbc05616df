"""`pip install ./client` in a fresh venv: the SDK and its CLI work, and no torch comes."""

import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_fresh_install_pulls_no_torch(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", str(ROOT / "client")], check=True,
                   timeout=600)  # fmt: skip
    listed = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], check=True,
                            capture_output=True, text=True).stdout.lower()  # fmt: skip
    names = {line.split("==")[0] for line in listed.splitlines()}
    assert {"locvlm-client", "httpx", "pydantic"} <= names
    assert not names & {"torch", "vllm", "transformers", "locvlm", "numpy", "pillow"}, names
    code = "from locvlm_client import Client, Box; print(Box(x1=0, y1=0, x2=2, y2=2).area)"
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "4.0"
    helped = subprocess.run([env_dir / "bin" / "locvlm-client", "--help"], capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert "Exit codes" in helped.stdout
