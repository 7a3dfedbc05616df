"""Fixtures shared across the tiers."""

import subprocess
import sys
from pathlib import Path

import pytest


def run_locvlm(*args: str, timeout: float = 1200) -> str:
    """Run the `locvlm` command line with this interpreter; fail with its output."""
    done = subprocess.run(
        [sys.executable, "-m", "locvlm", *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="session")
def tiny_shapes_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real `tiny-shapes` preset trained for a few steps, exported for vLLM.

    Barely trained: its unconstrained answers are often malformed, which is what the
    constrained-decoding tests need. About a minute on two CPU cores.
    """
    root = tmp_path_factory.mktemp("tiny_shapes")
    run_locvlm("train", "--preset", "tiny-shapes", "--steps", "20", "--out", str(root / "run"),
               "--no-progress", "--set", "eval_per_task=2",
               "--set", "tokenizer_scenes=1500")  # fmt: skip
    run_locvlm("export", str(root / "run"), str(root / "export"))
    return root / "export"
