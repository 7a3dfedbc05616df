"""`GET /`: the playground, one self-contained page (HTML, CSS and vanilla JS; no build).

Served to anyone, like `/healthz`: the page holds no secrets, and the `/v1` calls it
makes carry the API key the user pastes into it. Its Content-Security-Policy lets only
the page's own inline script and style run and its requests go only to this server, so
nothing external can load even if the page were changed to ask for it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

__all__ = ["page", "router"]

router = APIRouter(tags=["playground"])


@cache
def page() -> tuple[str, str]:
    """The page (package data, read once) and its Content-Security-Policy."""
    html = files("locvlm.api").joinpath("static/playground.html").read_text(encoding="utf-8")
    return html, _policy(html)


def _hashes(html: str, tag: str) -> str:
    """CSP sources allowing exactly the inline `<tag>` elements of `html`."""
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in bodies)
    return " ".join(f"'sha256-{digest}'" for digest in digests) or "'none'"


def _policy(html: str) -> str:
    return "; ".join([
        "default-src 'none'",
        f"script-src {_hashes(html, 'script')}",
        f"style-src {_hashes(html, 'style')}",
        "img-src data: blob:",  # the chosen image is read into a data URL, never fetched
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])  # fmt: skip


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def playground() -> HTMLResponse:
    """The playground page."""
    html, policy = page()
    headers = {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer"}  # fmt: skip
    return HTMLResponse(html, headers=headers)
