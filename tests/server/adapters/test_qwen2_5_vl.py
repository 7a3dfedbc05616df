"""Qwen2.5-VL: JSON boxes in pixels of the processor's resized input, back to the caller's."""

from __future__ import annotations

import re

import pytest

from tests.server.adapters.stock import near, stock

# (image size, what the model writes, the box in the caller's pixels). The numbers are
# in the resized input: 1280x960 is seen as 1148x840, 640x480 as 644x476, 300x800 as
# 308x812 (smart_resize: sides multiples of 28, area within 3136..1003520).
GOLDEN = [
    ((1280, 960), '```json\n[{"bbox_2d": [287, 210, 861, 630], "label": "cat"}]\n```',
     (320, 240, 960, 720)),
    ((640, 480), '[{"bbox_2d": [64, 48, 322, 238], "label": "cat"}]', (64, 48, 320, 240)),
    ((300, 800), '[{"bbox_2d": [31, 406, 154, 792], "label": "cat"}]', (30, 400, 150, 780)),
]  # fmt: skip


@pytest.mark.parametrize(("size", "text", "want"), GOLDEN)
def test_golden_answers_land_in_the_callers_pixels(size, text, want):
    [box] = stock("qwen2_5_vl").read_ground(text, "cat", size)
    assert near(box, want)


@pytest.mark.parametrize(("size", "text", "want"), GOLDEN)
def test_the_constraint_admits_the_documented_answer(size, text, want):
    question = stock("qwen2_5_vl").ground("cat", size)
    unfenced = text.removeprefix("```json\n").removesuffix("\n```")
    assert re.fullmatch(question.regex, unfenced)
    assert re.fullmatch(question.regex, "[]")  # none found
    assert not re.fullmatch(question.regex, unfenced.replace('"cat"', '"dog"'))


def test_detect_reads_labels_and_every_box():
    adapter = stock("qwen2_5_vl")
    text = (
        '[{"bbox_2d": [64, 48, 322, 238], "label": "cat"}, '
        '{"bbox_2d": [0, 0, 10, 10], "label": "dog"}]'
    )
    found = adapter.read_detect(text, (640, 480))
    assert [f.label for f in found] == ["cat", "dog"]
    question = adapter.detect(["cat", "dog"], (640, 480))
    assert "cat, dog" in question.text
    assert re.fullmatch(question.regex, text)


def test_the_chat_wraps_the_image_before_the_question():
    rendered = stock("qwen2_5_vl").render("Where?")
    assert rendered.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert rendered.endswith(
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Where?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_prose_without_boxes_is_no_answer_and_empty_is_none():
    adapter = stock("qwen2_5_vl")
    assert adapter.read_ground("I cannot see one.", "cat", (640, 480)) is None
    assert adapter.read_ground("[]", "cat", (640, 480)) == []
