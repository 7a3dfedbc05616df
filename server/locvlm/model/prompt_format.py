"""The conversation format: the one place that turns a question into model input text.

Training, the transformers and vLLM engines, and the chat template saved with every
checkpoint (used by `vllm serve` and the OpenAI-compatible route) all go through here.

With `image_first=True` (the default, and every preset's: `ModelPreset.image_first`)
it is LLaVA-1.5's order, `<image>` then the question. With `image_first=False` the image
comes *after* the question, so every image token can attend to the question words (the
patches of the object asked about can mark themselves before the answer is written);
the checkpoint's sidecar says which order it was trained with.
"""

from __future__ import annotations

__all__ = [
    "ANSWER_PREFIX",
    "IMAGE_TOKEN",
    "chat_template",
    "follow_up",
    "prompt",
    "text_scene_prompt",
]

IMAGE_TOKEN = "<image>"
ANSWER_PREFIX = " ASSISTANT:"


def prompt(question: str, image_first: bool = True) -> str:
    """The model input for one question about one image, up to where the answer starts."""
    question = " ".join(question.split())
    body = f"{IMAGE_TOKEN}\n{question}" if image_first else f"{question}\n{IMAGE_TOKEN}"
    return f"USER: {body}{ANSWER_PREFIX}"


def text_scene_prompt(scene: str, question: str, image_first: bool = True) -> str:
    """`prompt` with the scene written as text where the image goes (no image tokens).

    The text-only training stage asks every task about scenes given this way
    (`"red circle [3, 10, 9, 16]; blue square [...]"`), so the language model learns to
    select, compare and count before it has to read the same facts from pixels.
    """
    return prompt(question, image_first).replace(IMAGE_TOKEN, " ".join(scene.split()), 1)


def follow_up(question: str, image_first: bool = True) -> str:
    """A later user turn of the same conversation (no image), as the template renders it.

    It follows the previous answer's EOS directly; training packs several questions
    about one image this way (the image tokens are then paid for once).
    """
    question = " ".join(question.split())
    body = f"\n{question}" if image_first else f"{question}\n"
    return f"USER: {body}{ANSWER_PREFIX}"


def chat_template(image_first: bool = True) -> str:
    """A Jinja chat template that renders a conversation as `prompt` does, after BOS.

    OpenAI-style messages: the user's content is a string or a list of parts of type
    `text` and `image`/`image_url`; assistant turns are appended with the EOS token.
    The template writes the BOS token itself, as Llama's do: vLLM's chat endpoint adds no
    special tokens to a templated prompt, and without it the model sees a prompt it was
    never trained on (its answers then differ from `locvlm serve`'s in a third of the
    requests: bench/vs_vllm_serve.py). Tokenize a rendered conversation with
    `add_special_tokens=False`.
    """
    # Literal text goes through {{ '...' }} so Jinja's whitespace trimming cannot eat it.
    first, second = ("image", "text") if image_first else ("text", "image")
    answer = f"{{{{ '{ANSWER_PREFIX}' }}}}"
    return (
        "{{- bos_token -}}"
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'user' -%}"
        "{%- set ns = namespace(text='', image='') -%}"
        "{%- if message['content'] is string -%}{%- set ns.text = message['content'] -%}"
        "{%- else -%}{%- for part in message['content'] -%}"
        "{%- if part['type'] == 'text' -%}{%- set ns.text = ns.text + part['text'] -%}"
        f"{{%- else -%}}{{%- set ns.image = '{IMAGE_TOKEN}' -%}}"
        "{%- endif -%}{%- endfor -%}{%- endif -%}"
        "{%- set text = ns.text.split() | join(' ') -%}{%- set image = ns.image -%}"
        f"{{{{ 'USER: ' + {first} + '\\n' + {second} }}}}"
        "{%- elif message['role'] == 'assistant' -%}"
        f"{answer}{{{{ ' ' + message['content'] + eos_token }}}}"
        "{%- endif -%}{%- endfor -%}"
        f"{{%- if add_generation_prompt -%}}{answer}{{%- endif -%}}"
    )
