"""Florence-2: task tokens, `label<loc_x1><loc_y1><loc_x2><loc_y2>` over 1000 bins."""

from __future__ import annotations

import re

import pytest

from locvlm_client import Box
from tests.server.adapters.stock import near, stock

# Florence-2 quantizes by flooring and decodes bin centres: within half a bin (0.05 %).
GOLDEN = [
    ((1280, 960), "cat<loc_250><loc_250><loc_750><loc_750>", (320, 240, 960, 720)),
    ((640, 480), "cat<loc_100><loc_100><loc_500><loc_500>", (64, 48, 320, 240)),
    ((300, 800), "cat<loc_100><loc_500><loc_500><loc_975>", (30, 400, 150, 780)),
]


@pytest.mark.parametrize(("size", "text", "want"), GOLDEN)
def test_golden_answers_land_in_the_callers_pixels(size, text, want):
    adapter = stock("florence2")
    [box] = adapter.read_ground(text, "cat", size)
    assert near(box, want)
    assert re.fullmatch(adapter.ground("cat", size).regex, text)


def test_od_reads_every_phrase_with_its_boxes():
    text = (
        "cat<loc_100><loc_100><loc_500><loc_500>"
        "dog<loc_0><loc_0><loc_10><loc_10><loc_20><loc_20><loc_30><loc_30>"
    )
    found = stock("florence2").read_detect(text, (1000, 1000))
    assert [f.label for f in found] == ["cat", "dog", "dog"]
    assert re.fullmatch(stock("florence2").detect([], (1000, 1000)).regex, text)


def test_prompts_are_task_tokens():
    adapter = stock("florence2")
    assert adapter.ground("cat", (64, 64)).text == "<CAPTION_TO_PHRASE_GROUNDING>cat"
    assert adapter.detect([], (64, 64)).text == "<OD>"
    region = adapter.describe(Box(x1=0, y1=0, x2=32, y2=32), (64, 64), context=False)
    assert region.text == "<REGION_TO_DESCRIPTION><loc_0><loc_0><loc_500><loc_500>"
    assert not adapter.vllm
