"""PaliGemma: `detect` prefixes, y-first location tokens over 1024 bins."""

from __future__ import annotations

import re

import pytest

from locvlm.adapters import UnsupportedTaskError
from locvlm.engines.errors import InvalidInputError
from tests.server.adapters.stock import near, stock

GOLDEN = [
    ((1280, 960), "<loc0256><loc0256><loc0768><loc0768> cat", (320, 240, 960, 720)),
    ((640, 480), "<loc0102><loc0102><loc0512><loc0512> cat", (64, 48, 320, 240)),
    ((300, 800), "<loc0512><loc0102><loc0998><loc0512> cat", (30, 400, 150, 780)),
]


@pytest.mark.parametrize(("size", "text", "want"), GOLDEN)
def test_golden_answers_land_in_the_callers_pixels(size, text, want):
    adapter = stock("paligemma")
    [box] = adapter.read_ground(text, "cat", size)
    assert near(box, want)
    assert re.fullmatch(adapter.ground("cat", size).regex, text)


def test_prompts_are_task_prefixes_without_a_chat():
    adapter = stock("paligemma")
    assert adapter.ground("cat", (64, 64)).text == "detect cat"
    assert adapter.render("detect cat") == "detect cat"
    assert adapter.detect(["cat", "dog"], (64, 64)).text == "detect cat ; dog"


def test_an_empty_answer_is_none_found():
    assert stock("paligemma").read_ground("", "cat", (64, 64)) == []


def test_detect_lists_labels_with_segmentation_tokens_between():
    text = (
        "<loc0102><loc0102><loc0512><loc0512> <seg001><seg002> cat ; "
        "<loc0000><loc0000><loc0100><loc0100> dog"
    )
    found = stock("paligemma").read_detect(text, (640, 480))
    assert [f.label for f in found] == ["cat", "dog"]


def test_detect_needs_categories_without_a_vocabulary():
    with pytest.raises(InvalidInputError, match="categories"):
        stock("paligemma").detect([], (64, 64))
    assert "circle" in stock("paligemma", ("circle",)).detect([], (64, 64)).text


def test_region_description_is_refused():
    with pytest.raises(UnsupportedTaskError, match="PaliGemma"):
        stock("paligemma").describe(None, (64, 64), True)  # type: ignore[arg-type]
