"""`GET /healthz` and `GET /readyz` on the live server (no API key needed)."""

import httpx

from tests.server.api.live import LiveServer


def test_healthz(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_engine(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["in_flight"] == 0
    engine = body["engine"]
    assert engine["name"] == "transformers-process"  # the default: in a child process
    assert {"queued", "running", "finished", "details"} <= set(engine)
    assert "skipped_cancelled" in engine["details"]
