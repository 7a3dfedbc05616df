"""How every benchmark script leaves its result: OUT.json, OUT.md, and the markdown printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def save(out: Path, report: dict[str, Any], render: Callable[[dict[str, Any]], str]) -> None:
    """Write `report` as `out`.json and `render(report)` as `out`.md, and print the latter."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = render(report)
    out.with_suffix(".md").write_text(text)
    print(text)
