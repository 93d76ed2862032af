"""`dayzero chat`: talk to a model in the terminal, answers streamed as they are generated.

It goes through the same `ModelService` as the HTTP server (same template, same end-of-turn ids,
same reasoning and tool-call parsing), minus HTTP. Lines are read from a stream, so it can be
driven by a pipe: `printf 'hi\\n/exit\\n' | dayzero chat MODEL_DIR`.
Commands: `/reset` forgets the conversation, `/exit` (or end of input) leaves, `/image PATH` attaches a
local image to the next message (a vision-language model; `dayzero chat --image PATH` attaches one to the
first). An attached image travels as the HTTP server receives one, a data URI in an `image_url` part, so
the same decoding, bounds and text-only refusal apply.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from .api_errors import ApiError
from .hf_backend import ErrorEvent, TokenEvent
from .schemas import ChatCompletionRequest
from .service import ModelService

# What an empty reply means, as `dayzero run` says it (sdk.console): not a hang, not an error.
EMPTY_REPLY = "(empty reply: the model ended its turn at once; a tiny or barely trained model often does)"


def chat_loop(
    service: ModelService,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    images: list[str | Path] | None = None,
) -> int:
    """Run the conversation until `/exit` or end of input; returns the number of answers given.

    ``images`` are attached to the first message, as `/image PATH` attaches one to the next.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    start: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages = list(start)
    answers = 0
    pending: list[dict[str, Any]] = []  # image parts for the next message
    for path in images or []:
        part = image_part(path)
        if isinstance(part, str):
            stdout.write(f"error: {part}\n")
        else:
            pending.append(part)

    def prompt() -> None:
        if interactive:
            stdout.write("you> ")
            stdout.flush()

    prompt()
    for line in stdin:
        text = line.rstrip("\n")
        if text.strip() in ("/exit", "/quit"):
            break
        if text.strip() == "/reset":
            messages = list(start)
            pending = []
            stdout.write("(conversation reset)\n")
            prompt()
            continue
        if text.strip().startswith("/image"):
            part = image_part(text.strip()[len("/image"):].strip())
            if isinstance(part, str):
                stdout.write(f"error: {part}\n")
            else:
                pending.append(part)
                stdout.write(f"(image attached to the next message: {len(pending)} so far)\n")
            prompt()
            continue
        if not text.strip():
            prompt()
            continue
        content: Any = [*pending, {"type": "text", "text": text}] if pending else text
        messages.append({"role": "user", "content": content})
        try:
            reply = _answer(service, messages, stdout, max_tokens=max_tokens, temperature=temperature)
        except ApiError as exc:
            messages.pop()
            stdout.write(f"error: {exc.message}\n")
            if pending:
                stdout.write("(the attached images were dropped)\n")
        else:
            messages.append(reply)
            answers += 1
        pending = []
        prompt()
    return answers


def _answer(
    service: ModelService, messages: list[dict[str, Any]], out: TextIO, *, max_tokens: int | None,
    temperature: float | None,
) -> dict[str, Any]:
    req = ChatCompletionRequest.model_validate(
        {"model": service.model_name, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
    )
    prep = service.prepare_chat(req)
    output = service.output_for(prep)
    content: list[str] = []
    thought: list[str] = []
    in_reasoning = False

    def write(reasoning: str, text: str) -> None:
        nonlocal in_reasoning
        if reasoning:
            thought.append(reasoning)
            if not in_reasoning:
                out.write("[thinking] ")
                in_reasoning = True
            out.write(reasoning)
        if text:
            if in_reasoning:
                out.write("\n")
                in_reasoning = False
            out.write(text)
            content.append(text)
        out.flush()

    out.write("assistant> ")
    for event in service.backend.stream(prep.prompt_ids, prep.params, prep.inputs):
        if isinstance(event, ErrorEvent):
            raise ApiError(500, event.message)
        if isinstance(event, TokenEvent):
            write(*output.push_token_streaming(event.token_id))
            if output.stopped:
                break
    reasoning, text, calls = output.finish_streaming()
    write(reasoning, text)
    for call in calls:
        out.write(f"\n[tool call] {call.function.name}({call.function.arguments})")
    if not "".join(content).strip() and not calls and not thought:
        out.write(EMPTY_REPLY)  # say what happened, rather than a bare prompt that looks like a hang
    out.write("\n")
    out.flush()
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if calls:
        reply["tool_calls"] = [c.model_dump() for c in calls]
    return reply


def image_part(path: str | Path) -> dict[str, Any] | str:
    """A local image file as an `image_url` part (a data URI), or the one-line reason it cannot be one."""
    import mimetypes

    from .images import data_uri

    if not str(path):
        return "usage: /image PATH"
    file = Path(path).expanduser()
    media = mimetypes.guess_type(file.name)[0] or "image/png"
    try:
        data = file.read_bytes()
    except OSError as exc:
        return f"cannot read image {file}: {exc.strerror or exc}"
    if not media.startswith("image/"):
        media = "image/png"  # the decoder reads the format from the bytes; the media type is only a label
    return {"type": "image_url", "image_url": {"url": data_uri(data, media)}}
