"""Every family: a box encoded its way for an image size decodes back to the same box.

Within 1 px, or the family's quantization bound where that is coarser (Kosmos-2's grid
of 32 cells; PaliGemma's 1024 bins on a side over 1024 px).
"""

from __future__ import annotations

import pytest

from locvlm.adapters import ADAPTERS
from locvlm_client import Box
from tests.server.adapters.stock import SIZES, near, stock

BOXES = [(0.1, 0.2, 0.6, 0.9), (0.0, 0.0, 1.0, 1.0), (0.33, 0.41, 0.37, 0.52)]


@pytest.mark.parametrize("name", sorted(ADAPTERS))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("quad", BOXES)
def test_encode_then_read_lands_within_the_bound(name, size, quad):
    adapter = stock(name)
    width, height = size
    want = (quad[0] * width, quad[1] * height, quad[2] * width, quad[3] * height)
    text = adapter.codec.encode([Box.from_xyxy(want)], size)
    [box] = adapter.read_ground(text, "thing", size)
    bound = max(1.0, adapter.codec.tolerance * max(size))
    assert near(box, want, px=bound), (text, box.to_xyxy())
