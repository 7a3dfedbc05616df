"""`POST /v1/chat/completions` through the official `openai` SDK, on the live server.

The model is barely trained: answers must be well formed and honour their constraint,
not yet right. Requests go one at a time, so each is a batch of one and greedy answers
repeat exactly.
"""

import base64
import re
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from locvlm.coords import get_codec
from locvlm_client import Box
from tests.server.api.conftest import Server
from tests.server.api.live import API_KEY, LiveServer, encoded, scene, serving

IMAGE, OBJECTS = scene((160, 96))
DATA_URL = "data:image/png;base64," + base64.b64encode(encoded(IMAGE)).decode()
QUESTION = f"Where is the {OBJECTS[0].category}?"


def _sdk(server: LiveServer, key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=120)


def _user(text: str, *urls: str) -> list[dict[str, Any]]:
    images = [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [{"role": "user", "content": [{"type": "text", "text": text}, *images]}]


@pytest.fixture(scope="module")
def sdk(server: LiveServer) -> Iterator[openai.OpenAI]:
    with _sdk(server) as client:
        yield client


@pytest.fixture(scope="module")
def model(sdk: openai.OpenAI) -> str:
    return sdk.models.list().data[0].id


def test_a_completion_in_the_openai_shape(sdk: openai.OpenAI, model: str) -> None:
    answer = sdk.chat.completions.create(
        model=model, messages=_user(QUESTION, DATA_URL), max_tokens=8, temperature=0.7
    )
    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == model
    (choice,) = answer.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    usage = answer.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_a_streamed_answer_adds_up_to_the_whole_one(sdk: openai.OpenAI, model: str) -> None:
    ask: dict[str, Any] = {"model": model, "messages": _user(QUESTION, DATA_URL), "max_tokens": 8}
    whole = sdk.chat.completions.create(**ask)
    chunks = list(
        sdk.chat.completions.create(**ask, stream=True, stream_options={"include_usage": True})
    )
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == whole.choices[0].message.content
    pieces = [d.content for d in deltas if d.content]
    assert len(pieces) >= min(3, whole.usage.completion_tokens - 1)  # a piece per token
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole.choices[0].finish_reason
    assert finishes[:-1] == [None] * (len(finishes) - 1)
    assert chunks[-1].choices == []
    assert chunks[-1].usage == whole.usage


@pytest.mark.parametrize(
    ("constraint", "allowed"),
    [
        ({"regex": "(yes|no)"}, r"yes|no"),  # alternatives
        ({"regex": "[0-9]{2} px"}, r"[0-9]{2} px"),  # classes and counts
        ({"choice": ["left", "right (of it)"]}, r"left|right \(of it\)"),  # choices, escaped
    ],
)
def test_structured_outputs_constrain_the_answer(
    constraint: dict[str, Any], allowed: str, sdk: openai.OpenAI, model: str
) -> None:
    answer = sdk.chat.completions.create(
        model=model,
        messages=_user("Is the red circle left of the blue square?", DATA_URL),
        extra_body={"structured_outputs": constraint},
    )
    content = answer.choices[0].message.content
    assert content is not None
    assert re.fullmatch(allowed, content), content


def _forced_box(sdk: openai.OpenAI) -> tuple[str, Box]:
    """A box the model is made to write (its codec's first box shape), and it in pixels."""
    card = sdk.models.list().data[0]
    codec = get_codec(**card.model_extra["codec"])  # type: ignore[index]
    written = codec.encode([Box.from_xyxy((20, 10, 100, 60))], IMAGE.size)
    return written, codec.decode(written, IMAGE.size)[0]


@pytest.mark.parametrize("coords", ["pixel", "normalized"])
def test_the_answers_boxes_come_back_in_the_images_space(
    coords: str, sdk: openai.OpenAI, model: str
) -> None:
    written, pixels = _forced_box(sdk)
    answer = sdk.chat.completions.create(
        model=model, messages=_user(QUESTION, DATA_URL),
        extra_body={"structured_outputs": {"regex": re.escape(written)},
                    "coords": coords},
    )  # fmt: skip
    message = answer.choices[0].message
    assert message.content == written  # the model's own coordinates, as vLLM answers
    (got,) = message.model_extra["boxes"]  # type: ignore[index]
    want = pixels if coords == "pixel" else Box.from_xyxy(pixels.to_normalized(IMAGE.size))
    assert Box.model_validate(got["box"]).to_xyxy() == pytest.approx(want.to_xyxy())
    streamed = list(
        sdk.chat.completions.create(
            model=model, messages=_user(QUESTION, DATA_URL), stream=True,
            extra_body={"structured_outputs": {"regex": re.escape(written)}, "coords": coords},
        )
    )  # fmt: skip
    last = streamed[-1].choices[0]
    assert last.finish_reason is not None
    assert last.delta.model_extra["boxes"] == message.model_extra["boxes"]  # type: ignore[index]


def test_an_answer_without_boxes_has_an_empty_list(sdk: openai.OpenAI, model: str) -> None:
    answer = sdk.chat.completions.create(
        model=model, messages=_user(QUESTION, DATA_URL),
        extra_body={"structured_outputs": {"choice": ["yes", "no"]}},
    )  # fmt: skip
    assert answer.choices[0].message.model_extra["boxes"] == []  # type: ignore[index]


@pytest.mark.parametrize("name", ["gpt-4o", "default-2", ""])
def test_a_model_name_not_served_is_a_404(name: str, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model=name, messages=_user(QUESTION, DATA_URL))
    assert caught.value.status_code == 404
    assert caught.value.type == "not_found"
    assert caught.value.param == "model"


def test_default_names_the_served_model(sdk: openai.OpenAI, model: str) -> None:
    ask: dict[str, Any] = {"messages": _user(QUESTION, DATA_URL), "max_tokens": 6}
    by_id = sdk.chat.completions.create(model=model, **ask)
    by_default = sdk.chat.completions.create(model="default", **ask)
    assert by_default.choices[0].message.content == by_id.choices[0].message.content
    assert by_default.model == model


@pytest.mark.parametrize(
    "response_format",
    [{"type": "json_object"}, {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}],
)
def test_json_response_formats_are_refused(
    response_format: dict[str, Any], sdk: openai.OpenAI, model: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model=model, messages=_user(QUESTION, DATA_URL),
            response_format=response_format,  # type: ignore[arg-type]
        )  # fmt: skip
    assert caught.value.param == "response_format.type"
    assert "structured_outputs" in caught.value.message


def test_a_text_response_format_is_served(sdk: openai.OpenAI, model: str) -> None:
    answer = sdk.chat.completions.create(
        model=model, messages=_user(QUESTION, DATA_URL), max_tokens=4,
        response_format={"type": "text"},
    )  # fmt: skip
    assert isinstance(answer.choices[0].message.content, str)


def test_the_last_user_message_asks_and_other_turns_are_accepted(
    sdk: openai.OpenAI, model: str
) -> None:
    messages: list[Any] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": DATA_URL}}]},
        {"role": "assistant", "content": "I see the image."},
        {"role": "user", "content": "How many circles are there?"},
    ]
    answer = sdk.chat.completions.create(
        model=model, messages=messages, max_completion_tokens=4,
        extra_body={"structured_outputs": {"regex": "[0-9]"}},
    )  # fmt: skip
    assert re.fullmatch("[0-9]", answer.choices[0].message.content or "")
    assert answer.usage is not None
    assert answer.usage.completion_tokens <= 4


@pytest.mark.parametrize(
    ("messages", "extra", "param"),
    [
        ([{"role": "user", "content": QUESTION}], {}, "messages"),  # no image
        (_user(QUESTION, DATA_URL, DATA_URL), {}, "messages[0].content[2].image_url"),  # two
        ([{"role": "system", "content": "hi"}], {}, "messages"),  # no user message
        (_user(QUESTION, "http://127.0.0.1:9/a.png"), {},
         "messages[0].content[1].image_url.url"),  # loopback URL (SSRF)
        (_user(QUESTION, "http://169.254.169.254/latest/meta-data/"), {},
         "messages[0].content[1].image_url.url"),  # cloud metadata (SSRF)
        (_user(QUESTION, "file:///etc/passwd"), {},
         "messages[0].content[1].image_url.url"),  # not http(s)
        (_user(QUESTION, "data:image/png;base64,%%%"), {},
         "messages[0].content[1].image_url.data"),  # bad base64
        (_user(QUESTION, DATA_URL), {"structured_outputs": {"regex": "(?<=a)b"}},
         "structured_outputs.regex"),  # lookbehind: no engine supports it
        (_user(QUESTION, DATA_URL), {"structured_outputs": {"regex": "(a"}},
         "structured_outputs.regex"),  # not a regex
    ],
)  # fmt: skip
@pytest.mark.parametrize("stream", [False, True])
def test_bad_requests_raise_bad_request_error(
    messages: list[Any],
    extra: dict[str, Any],
    param: str,
    stream: bool,
    sdk: openai.OpenAI,
    model: str,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=model, messages=messages, extra_body=extra, stream=stream)
    error = caught.value
    assert error.status_code == 400
    assert error.type == "invalid_request"
    assert error.param == param
    assert isinstance(error.body, dict)
    assert error.body["message"]
    assert "Traceback" not in error.response.text


@pytest.mark.parametrize(
    "extra",
    [
        {"n": 2},  # one greedy answer only
        {"max_tokens": 0},  # no answer
        {"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]},  # no tools
    ],
)
def test_unsupported_values_are_unprocessable(
    extra: dict[str, Any], sdk: openai.OpenAI, model: str
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.chat.completions.create(
            model=model, messages=_user(QUESTION, DATA_URL), extra_body=extra
        )
    assert caught.value.type == "unprocessable"


def test_a_wrong_key_is_refused(server: LiveServer, model: str) -> None:
    with _sdk(server, key="wrong") as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=model, messages=_user(QUESTION, DATA_URL))


# --- http(s) image URLs: a server that may reach the loopback image server ---------------
@pytest.fixture(scope="module")
def url_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with serving(request, "chat_urls", LOCVLM_ALLOW_PRIVATE_URLS="true") as server:
        yield server


def test_an_http_image_url_is_fetched(url_server: LiveServer, image_server: Server) -> None:
    with _sdk(url_server) as client:
        answer = client.chat.completions.create(
            model="default", messages=_user(QUESTION, image_server.url("/image.png")),
            max_tokens=4,
        )  # fmt: skip
    assert answer.choices[0].message.role == "assistant"
    assert "/image.png" in image_server.paths()
    with _sdk(url_server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="default", messages=_user(QUESTION, image_server.url("/status/404"))
        )
    assert caught.value.param == "messages[0].content[1].image_url.url"
