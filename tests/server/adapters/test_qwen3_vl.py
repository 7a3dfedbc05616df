"""Qwen3-VL: JSON boxes relative to 0-1000 of the image, whatever its resize."""

from __future__ import annotations

import re

import pytest

from tests.server.adapters.stock import near, stock

GOLDEN = [
    ((1280, 960), '```json\n[{"bbox_2d": [250, 250, 750, 750], "label": "cat"}]\n```',
     (320, 240, 960, 720)),
    ((640, 480), '[{"bbox_2d": [100, 100, 500, 500], "label": "cat"}]', (64, 48, 320, 240)),
    ((300, 800), '[{"bbox_2d": [100, 500, 500, 975], "label": "cat"}]', (30, 400, 150, 780)),
]  # fmt: skip


@pytest.mark.parametrize(("size", "text", "want"), GOLDEN)
def test_golden_answers_land_in_the_callers_pixels(size, text, want):
    [box] = stock("qwen3_vl").read_ground(text, "cat", size)
    assert near(box, want)


@pytest.mark.parametrize(("size", "text", "want"), GOLDEN)
def test_the_constraint_admits_the_documented_answer(size, text, want):
    question = stock("qwen3_vl").ground("cat", size)
    assert re.fullmatch(question.regex, text.removeprefix("```json\n").removesuffix("\n```"))


def test_tuple_boxes_are_read_when_no_json_came():
    text = "<|box_start|>(100,100),(500,500)<|box_end|>"
    [box] = stock("qwen3_vl").read_ground(text, "cat", (640, 480))
    assert near(box, (64, 48, 320, 240))


def test_the_chat_has_no_default_system_turn():
    assert stock("qwen3_vl").render("Hi").startswith("<|im_start|>user\n<|vision_start|>")
