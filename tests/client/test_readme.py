"""The examples in client/README.md run as written against a real server."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.api.live import API_KEY, LiveServer, shared_server

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "client" / "README.md").read_text(encoding="utf-8")
PYTHON = re.findall(r"```python\n(.*?)```", README, flags=re.S)
COMMANDS = [
    line
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    for line in block.splitlines()
    if line.startswith("locvlm-client ")
]


@pytest.fixture(scope="module")
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    server: LiveServer = shared_server(request)
    return {**os.environ, "LOCVLM_BASE_URL": server.url, "LOCVLM_API_KEY": API_KEY}


def test_the_readme_has_examples() -> None:
    assert len(PYTHON) >= 6
    assert len(COMMANDS) >= 5


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_examples_run(code: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_examples_run(command: str, env: dict[str, str]) -> None:
    args = shlex.split(command)
    tool = Path(sys.executable).parent / args[0]
    done = subprocess.run([str(tool), *args[1:]], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: ground found a phrase absent
    assert done.stdout.strip()
