"""The process engine's wire format: each image crosses once, squashed when large."""

import pickle

import pytest
from PIL import Image

from locvlm.adapters import get_adapter
from locvlm.engines._wire import SQUASH_HERE, from_wire, to_wire
from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.model.image import square
from locvlm.model.sidecar import Sidecar

SIDE = 64
ADAPTER = get_adapter(Sidecar(codec={"name": "nfp"}, preset="tiny", image_size=SIDE))


def _image(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert(mode)
    return image


@pytest.mark.anyio
async def test_an_image_asked_about_many_times_crosses_once() -> None:
    image = _image((SIDE, SIDE))
    requests = [GenerationRequest(image, f"Where is thing {i}?", 8) for i in range(6)]
    one = pickle.dumps(await to_wire(requests[:1], ADAPTER))
    six = pickle.dumps(await to_wire(requests, ADAPTER))
    assert len(six) < len(one) + 6 * 200  # the questions, not five more copies of pixels
    again = from_wire(pickle.loads(six))
    assert all(r.image is again[0].image for r in again)  # one image, shared as it was
    assert again[0].image.tobytes() == image.tobytes()
    assert [r.question for r in again] == [r.question for r in requests]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("size", "mode", "sent"),
    [
        ((SIDE, SIDE), "RGB", (SIDE, SIDE)),  # already as the model sees it
        ((2 * SIDE, 2 * SIDE), "RGB", (2 * SIDE, 2 * SIDE)),  # 4x: squashed in the child
        ((2 * SIDE + 1, 2 * SIDE), "RGB", (SIDE, SIDE)),  # over 4x: squashed before sending
        ((SIDE, SIDE), "L", (SIDE, SIDE)),  # grey: sent as RGB
    ],
)
async def test_large_images_are_squashed_before_they_are_sent(
    size: tuple[int, int], mode: str, sent: tuple[int, int]
) -> None:
    image = _image(size, mode)
    request = GenerationRequest(image, "Q?", 4, Constraint(choices=("yes", "no")), "id", 2)
    [back] = from_wire(pickle.loads(pickle.dumps(await to_wire([request], ADAPTER))))
    assert (back.image.mode, back.image.size) == ("RGB", sent)
    assert back.image.width * back.image.height <= SQUASH_HERE * SIDE * SIDE
    assert square(back.image, SIDE).tobytes() == square(image, SIDE).tobytes()  # same pixels
    assert (back.question, back.max_new_tokens, back.constraint, back.request_id, back.coming) \
        == ("Q?", 4, request.constraint, "id", 2)  # fmt: skip


@pytest.mark.anyio
async def test_a_family_whose_processor_resizes_gets_the_image_as_it_is() -> None:
    qwen = get_adapter(
        Sidecar(codec={"name": "qwen2_5_vl"}, preset="q", image_size=0, adapter="qwen2_5_vl")
    )
    image = _image((SIDE * 20, SIDE * 10), "RGBA")
    [back] = from_wire(
        pickle.loads(pickle.dumps(await to_wire([GenerationRequest(image, "Q?", 4)], qwen)))
    )
    assert (back.image.mode, back.image.size) == ("RGB", image.size)
