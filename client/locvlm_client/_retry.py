"""When and how long to wait before trying a request again.

Retried: connection errors and timeouts, 408, 429 and 5xx (except 501). The wait is
exponential with full jitter, or what the server's `Retry-After` says (seconds or an
HTTP date), capped so a confused server cannot park a client for hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["RetryPolicy", "retry_after"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds `Retry-After` asks for, or None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RetryPolicy:
    """How many times to retry and how long to wait in between."""

    max_retries: int = 2
    initial_delay: float = 0.5  # seconds before the first retry (before jitter)
    max_delay: float = 8.0  # cap of the exponential delay
    max_retry_after: float = 60.0  # cap of a server-requested wait
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    def should_retry(self, attempt: int, response: httpx.Response | None) -> bool:
        """Whether attempt number `attempt` (0-based) may be followed by another.

        `response` is None when the attempt failed without one (connection, timeout).
        """
        if attempt >= self.max_retries:
            return False
        return response is None or response.status_code in RETRY_STATUSES

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait after attempt `attempt` (0-based) before the next."""
        if response is not None and (asked := retry_after(response)) is not None:
            return float(min(asked, self.max_retry_after))
        ceiling = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return ceiling * (0.5 + 0.5 * self.rng.random())  # jitter in [ceiling/2, ceiling]
