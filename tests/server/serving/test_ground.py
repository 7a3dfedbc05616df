"""`/v1/ground`'s serving: a phrase outside the vocabulary is not asked, and says why."""

from __future__ import annotations

import pytest
from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.serving.ground import ground
from tests.server.serving.recording import SIDECAR, RecordingEngine


@pytest.mark.anyio
async def test_an_unknown_phrase_is_not_found_with_a_warning_and_not_asked():
    engine = RecordingEngine()
    answer = await ground(ServingContext(engine, SIDECAR), Image.new("RGB", (64, 64)),
                          ["the cat", "Red Circle"])  # fmt: skip
    cat, circle = answer.results
    assert (cat.found, cat.boxes, cat.raw) == (False, [], "")
    assert "not a category this model knows" in (cat.warning or "")
    assert (circle.found, circle.warning) == (True, None)
    assert engine.asked == ["Where is the red circle?"]  # normalized to the category
