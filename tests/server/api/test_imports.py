"""The HTTP process loads no torch: its engine runs in a child process (the default).

Like the client's import guard (tests/client/test_imports.py), in a fresh interpreter;
then on the live server, whose parent must not have mapped libtorch while its child has.
"""

import os
import subprocess
import sys

import psutil
import pytest

from tests.server.api.live import LiveServer, shared_server

HEAVY = ("torch", "vllm", "transformers", "xgrammar")

# What the parent of `locvlm serve` does before and while serving, short of the child's
# work: the command line, the app with default settings, the engine class the lifespan
# picks, and the shipped checkpoint's sidecar.
PROBE = f"""
import sys
import locvlm.cli
from locvlm.api.app import create_app
from locvlm.api.settings import Settings
from locvlm.engines.factory import engine_class
from locvlm.model.sidecar import Sidecar, resolve_model_dir

settings = Settings()
assert settings.engine_process, "the default places the engine in a child process"
app = create_app(settings)
engine_class("transformers", in_child=settings.engine_process)
Sidecar.read(resolve_model_dir(settings.model))
print(",".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def _probe(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCVLM_")}  # defaults
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_the_app_with_default_settings_imports_no_torch() -> None:
    assert _probe(PROBE) == "", "the HTTP process imported these"


def test_the_import_check_can_see_torch() -> None:
    # Control: the same probe notices torch when the in-process engine is chosen.
    code = PROBE.replace("in_child=settings.engine_process", "in_child=False")
    assert "torch" in _probe(code).split(",")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request)


def _maps_torch(process: psutil.Process) -> bool:
    return any("libtorch" in m.path for m in process.memory_maps())


def test_the_live_server_loads_torch_in_its_engine_process_only(server: LiveServer) -> None:
    parent = psutil.Process(server.proc.pid)
    children = parent.children(recursive=True)
    assert not _maps_torch(parent)
    assert any(_maps_torch(child) for child in children)  # the engine has it
