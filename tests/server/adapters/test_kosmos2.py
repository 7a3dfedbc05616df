"""Kosmos-2: `<phrase>` and `<object>` with patch indices of a 32 x 32 grid."""

from __future__ import annotations

import re

import pytest

from locvlm_client import Box
from tests.server.adapters.stock import near, stock

# The snowman of the transformers docs: cells 44 and 863, centre to centre.
SNOWMAN = "<object><patch_index_0044><patch_index_0863></object>"
GOLDEN = [
    ((1280, 960), (500, 45, 1260, 795)),
    ((640, 480), (250, 22.5, 630, 397.5)),
    ((300, 800), (117.1875, 37.5, 295.3125, 662.5)),
]


@pytest.mark.parametrize(("size", "want"), GOLDEN)
def test_golden_answers_land_in_the_callers_pixels(size, want):
    adapter = stock("kosmos2")
    [box] = adapter.read_ground(SNOWMAN, "a snowman", size)
    assert near(box, want)
    assert re.fullmatch(adapter.ground("a snowman", size).regex, SNOWMAN)


def test_a_grounded_caption_labels_boxes_with_its_phrases():
    text = (
        " <phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863></object>"
        " warming himself by"
        "<phrase> a fire</phrase><object><patch_index_0005><patch_index_0911></object>"
    )
    found = stock("kosmos2").read_detect(text, (640, 480))
    assert [f.label for f in found] == ["a snowman", "a fire"]


def test_the_region_is_given_as_the_object_of_it():
    question = stock("kosmos2").describe(Box(x1=0, y1=0, x2=320, y2=240), (640, 480), True)
    assert (
        question.text
        == "<grounding><phrase> It</phrase><object><patch_index_0000><patch_index_0495></object> is"
    )
