import inspect

import jinja2
import pytest

from locvlm.model.config import PRESETS
from locvlm.model.inputs import Encoder
from locvlm.model.prompt_format import IMAGE_TOKEN, chat_template, follow_up, prompt
from locvlm.model.sidecar import Sidecar


@pytest.mark.parametrize("image_first", [False, True])
@pytest.mark.parametrize(
    "content",
    [
        [
            {"type": "image"},
            {"type": "text", "text": "Where is the red circle?"},
        ],  # image part first
        [
            {"type": "text", "text": "Where is the red circle?"},
            {"type": "image_url", "image_url": {"url": "x"}},
        ],  # url part last
        [
            {"type": "text", "text": "Where   is the red\ncircle?"},
            {"type": "image"},
        ],  # messy spaces
    ],
)
def test_template_renders_exactly_the_prompt(image_first: bool, content: list[dict]) -> None:
    template = jinja2.Environment().from_string(chat_template(image_first))
    text = template.render(
        messages=[{"role": "user", "content": content}],
        add_generation_prompt=True,
        bos_token="<s>",
        eos_token="</s>",
    )
    assert text == "<s>" + prompt("Where is the red circle?", image_first)


def test_prompt_orders() -> None:
    assert prompt("Q?", image_first=False) == f"USER: Q?\n{IMAGE_TOKEN} ASSISTANT:"
    assert prompt("Q?", image_first=True) == f"USER: {IMAGE_TOKEN}\nQ? ASSISTANT:"


def test_the_defaults_are_the_presets_order() -> None:
    # every default agrees with the presets (LLaVA's order), so a caller that leaves it
    # out formats prompts as the shipped model was trained
    assert all(preset.image_first for preset in PRESETS.values())
    assert prompt("Q?") == prompt("Q?", image_first=True)
    assert follow_up("Q?") == follow_up("Q?", image_first=True)
    assert chat_template() == chat_template(image_first=True)
    assert Sidecar(codec={"name": "ivb"}, preset="tiny-shapes", image_size=64).image_first
    assert inspect.signature(Encoder).parameters["image_first"].default is True


def test_assistant_turn_gets_eos() -> None:
    template = jinja2.Environment().from_string(chat_template())
    messages = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "yes"}]
    text = template.render(messages=messages, bos_token="<s>", eos_token="</s>")
    assert text.startswith("<s>USER: ")
    assert text.endswith(" ASSISTANT: yes</s>")


@pytest.mark.parametrize("image_first", [False, True])
def test_follow_up_turns_render_as_the_template_does(image_first: bool) -> None:
    template = jinja2.Environment().from_string(chat_template(image_first))
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Q1?"}, {"type": "image"}]},
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": "Q2  now?"},
    ]
    text = template.render(messages=messages, add_generation_prompt=True, bos_token="<s>",
                           eos_token="</s>")  # fmt: skip
    expected = "<s>" + prompt("Q1?", image_first) + " yes</s>" + follow_up("Q2 now?", image_first)
    assert text == expected


def test_a_scene_written_as_text_takes_the_image_place() -> None:
    from locvlm.model.prompt_format import IMAGE_TOKEN, prompt, text_scene_prompt

    scene = "red circle [1, 2, 3, 4];\n blue square [5, 6, 7, 8]"
    for first in (True, False):
        text = text_scene_prompt(scene, "Where is the red circle?", first)
        assert IMAGE_TOKEN not in text
        flat = "red circle [1, 2, 3, 4]; blue square [5, 6, 7, 8]"
        assert text == prompt("Where is the red circle?", first).replace(IMAGE_TOKEN, flat)
