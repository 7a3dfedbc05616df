"""Qwen2-VL: object-reference tokens and `(x1,y1),(x2,y2)` boxes relative to 0-1000."""

from __future__ import annotations

import re

import pytest

from locvlm.adapters import UnsupportedTaskError
from tests.server.adapters.stock import near, stock

REF = "<|object_ref_start|>cat<|object_ref_end|>"
GOLDEN = [
    ((1280, 960), f"{REF}<|box_start|>(250,250),(750,750)<|box_end|>", (320, 240, 960, 720)),
    ((640, 480), f"{REF}<|box_start|>(100,100),(500,500)<|box_end|>", (64, 48, 320, 240)),
    ((300, 800), f"{REF}<|box_start|>(100,500),(500,975)<|box_end|>", (30, 400, 150, 780)),
]


@pytest.mark.parametrize(("size", "text", "want"), GOLDEN)
def test_golden_answers_land_in_the_callers_pixels(size, text, want):
    adapter = stock("qwen2_vl")
    [box] = adapter.read_ground(text, "cat", size)
    assert near(box, want)
    assert re.fullmatch(adapter.ground("cat", size).regex, text)


def test_special_tokens_stripped_still_parse():
    [box] = stock("qwen2_vl").read_ground("cat(100,100),(500,500)", "cat", (640, 480))
    assert near(box, (64, 48, 320, 240))


def test_the_prompt_names_the_phrase_as_a_reference():
    assert REF in stock("qwen2_vl").ground("cat", (64, 64)).text


def test_detection_is_refused_with_the_tasks_it_serves():
    with pytest.raises(UnsupportedTaskError, match=r"Qwen2-VL models cannot do detect.*ground"):
        stock("qwen2_vl").require("detect")
