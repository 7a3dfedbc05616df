"""`POST /v1/chat/completions`: OpenAI-compatible chat, one question about one image.

    client = openai.OpenAI(base_url="http://localhost:8000/v1", api_key="...")
    client.chat.completions.create(model="default", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Where is the red circle?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}]}])

What is asked of the model, and how streaming works: `locvlm.serving.completions`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from locvlm.api.deps import JSON_BODY, ImagesDep, ServingDep, SettingsDep
from locvlm.api.errors import NotFoundError
from locvlm.api.limits import check_texts
from locvlm.api.routes import error_responses
from locvlm.api.routes.models import model_id
from locvlm.serving import completions
from locvlm_client import ChatCompletion, ChatCompletionRequest, ErrorResponse, ImageInput

__all__ = ["router"]

router = APIRouter(tags=["chat (OpenAI-compatible)"], responses=error_responses())

_STREAM = {"text/event-stream": {"description": "With `stream`: chat.completion.chunk events."}}


@router.post(
    "/chat/completions",
    dependencies=[JSON_BODY],
    response_model=ChatCompletion,
    responses={
        200: {"content": _STREAM},
        404: {"model": ErrorResponse, "description": "Not the served model's name."},
    },
)
async def chat_completions(
    body: ChatCompletionRequest, serving: ServingDep, images: ImagesDep, settings: SettingsDep
) -> Any:
    """Answer the last user message's question about the request's one image."""
    served = model_id(settings.model)
    if body.model not in (served, "default", settings.model):
        raise NotFoundError(
            f"the model `{body.model}` does not exist; this server serves `{served}` "
            "(GET /v1/models)",
            param="model",
        )
    turn = completions.read_turn(body, settings.max_regex_chars)
    check_texts([turn.question], settings, turn.question_param)
    await completions.check_constraint(serving, turn)  # before the image: it is cheaper
    url = turn.image_url
    given = ImageInput(data=url) if url[:5].lower() == "data:" else ImageInput(url=url)
    image = await images.load(given, param=turn.image_param)
    if not body.stream:
        return await completions.complete(serving, image, turn, served)
    usage = body.stream_options is not None and body.stream_options.include_usage
    events = completions.stream_events(serving, image, turn, served, usage)
    first = await anext(events)  # what fails before the answer begins is an HTTP error
    return StreamingResponse(
        _resumed(first, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _resumed(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    """`first`, then the rest of the stream it came from."""
    yield first
    async for event in rest:
        yield event
