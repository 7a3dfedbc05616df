"""`KEY=VALUE` command-line assignments (`--set`, `--param`): values read as JSON.

parse_assignments(['stage2.steps=200', 'codec={"name": "nfp"}', 'note=hi'], '--set')
# {"stage2.steps": 200, "codec": {"name": "nfp"}, "note": "hi"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import typer

__all__ = ["parse_assignments"]


def parse_assignments(items: Iterable[str], option: str) -> dict[str, Any]:
    """Each `KEY=VALUE` as a dict entry; a VALUE that is not JSON stays a string.

    Raises:
        typer.BadParameter: an item without `=` (named after `option`).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
