"""HTTP routes, thin: parse the request, load its image, call `locvlm.serving`, answer.

One module per endpoint family, each with its `router`; `locvlm.api.app` mounts them.
"""

from __future__ import annotations

from typing import Any

from locvlm_client import ErrorResponse

__all__ = ["error_responses", "split_phrases"]

_WHY = {
    400: "Malformed request: bad base64, corrupt image, blocked or failing image URL.",
    401: "Missing or wrong API key (when LOCVLM_API_KEYS is set).",
    413: "Request body, image bytes or image pixels over the limits.",
    415: "Not an image in an accepted format, or the wrong request content type.",
    422: "The request does not match the schema or exceeds a count/length limit.",
    429: "Too many requests in flight; retry after `Retry-After` seconds.",
    503: "The engine is loading, draining or dead.",
    504: "The request (or its image URL) took too long.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error codes (all of them when none are given)."""
    return {
        code: {"model": ErrorResponse, "description": _WHY[code]} for code in codes or tuple(_WHY)
    }


def split_phrases(fields: list[str]) -> list[str]:
    """An upload form's phrase fields, each split on commas (as the playground's box is)."""
    return [p.strip() for field in fields for p in field.split(",") if p.strip()] or fields
