"""From an OpenAI request to a generation and back: checks, prompt, sampling, output parsing.

This layer knows the OpenAI semantics (choices, finish reasons, usage, streaming chunks) and the
family's formatting; it knows nothing of HTTP (see `app.py`) nor of how tokens are produced (see
`hf_backend.py`). Every refusal is an `ApiError` with the parameter it is about.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dayzero.errors import DayzeroError

from .api_errors import ApiError, from_dayzero
from .chat_output import ChatOutput, ChatResult
from .formatting import ChatFormatting
from .hf_backend import DoneEvent, ErrorEvent, HFBackend, Job, SamplingParams, TokenEvent
from .images import chat_images, vision_inputs
from .limits import Limits
from .schemas import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Completion,
    CompletionChoice,
    CompletionRequest,
    ModelCard,
    ModelList,
    ResponseMessage,
    SamplingFields,
    Usage,
    new_id,
    now,
)
from .text_stream import TextStream

if TYPE_CHECKING:
    from dayzero.sdk.vision_inputs import VisionEncoder

log = logging.getLogger("dayzero.serve")


@dataclass
class Prepared:
    """A checked request: the prompt ids and what to do with the output."""

    prompt_ids: list[int]
    params: SamplingParams
    stop: list[str]
    parse_tools: bool = False
    opens_reasoning: bool = False
    inputs: dict[str, Any] | None = None  # a vision-language prompt's pixel values, grids, token types


class ModelService:
    """One served model: a back end, the family's formatting, and the name clients call it by."""

    def __init__(
        self,
        backend: HFBackend,
        formatting: ChatFormatting,
        *,
        model_name: str,
        default_max_tokens: int = 1024,
        root: str | None = None,
        adapters: dict[str, tuple[str, str]] | None = None,
        vision: VisionEncoder | None = None,
    ) -> None:
        self.backend = backend
        self.formatting = formatting
        self.model_name = model_name
        self.default_max_tokens = default_max_tokens
        self.root = root
        self.vision = vision  # None: a text-only model, which refuses image parts
        self.created = now()
        # multi-LoRA: served name -> (the backend's adapter name, its directory); `model_name` is the base
        self.adapters = dict(adapters or {})

    @property
    def tokenizer(self) -> Any:
        return self.backend.tokenizer

    def models(self) -> ModelList:
        cards = [ModelCard(id=self.model_name, created=self.created, root=self.root)]
        cards += [ModelCard(id=name, created=self.created, root=path, parent=self.model_name)
                  for name, (_, path) in self.adapters.items()]
        return ModelList(data=cards)

    @property
    def served_names(self) -> list[str]:
        return [self.model_name, *self.adapters]

    # ---- checks shared by both endpoints -------------------------------------------------------

    def _check_common(self, req: SamplingFields) -> None:
        if req.model not in self.served_names:
            names = ", ".join(f"`{n}`" for n in self.served_names)
            raise ApiError(
                404, f"the model `{req.model}` does not exist; this server serves {names}",
                param="model", code="model_not_found",
            )
        for name in req.unsupported():
            why = " (constrained decoding; `dayzero serve --backend vllm` implements it)" if name == "response_format" else ""
            raise ApiError(400, f"`{name}` is not supported by this server{why}", param=name, code="not_supported")

    def _params(self, req: SamplingFields, prompt_len: int, budget: int | None, param: str) -> SamplingParams:
        room = self.backend.max_context - prompt_len
        if room <= 0:
            raise ApiError(
                400,
                f"the prompt is {prompt_len} tokens long; this model's context is {self.backend.max_context} tokens",
                param=param, code="context_length_exceeded",
            )
        if budget is not None and budget > room:
            raise ApiError(
                400,
                f"max_tokens={budget} plus the {prompt_len}-token prompt exceeds the model's context of "
                f"{self.backend.max_context} tokens (at most {room} new tokens fit)",
                param="max_tokens", code="context_length_exceeded",
            )
        return SamplingParams(
            max_new_tokens=budget if budget is not None else min(room, self.default_max_tokens),
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed,
            adapter=self.adapters[req.model][0] if req.model in self.adapters else None,
        )

    # ---- chat ----------------------------------------------------------------------------------

    def prepare_chat(self, req: ChatCompletionRequest, limits: Limits | None = None) -> Prepared:
        """Check, render and tokenize a chat request; image parts are decoded within ``limits`` and become
        the model's pixel inputs (a text-only model refuses them)."""
        self._check_common(req)
        fmt = self.formatting
        images = chat_images(req.messages, self.vision, limits or Limits(),
                             model=f"`{self.model_name}` (family `{fmt.family_id}`)")
        if req.tool_choice is not None and req.tool_choice not in ("none", "auto"):
            raise ApiError(
                400, "tool_choice `required` or a named function needs constrained decoding, which the hf back end "
                "does not implement; use `auto`", param="tool_choice", code="not_supported",
            )
        if req.tools and fmt.tool_extract is None:
            raise ApiError(
                400, f"the family `{fmt.family_id}` has no tool-call dialect in the registry", param="tools",
                code="not_supported",
            )
        thinking = self._thinking(req)
        try:
            prompt = fmt.render(
                to_template_messages(req.messages, placeholder=self.vision.vision.placeholder if self.vision else None),
                tools=[t.model_dump(exclude_none=True) for t in req.tools] if req.tools else None,
                add_generation_prompt=True,
                thinking=thinking,
            )
        except DayzeroError as exc:
            raise from_dayzero(exc, param="messages") from None
        inputs = None
        if self.vision is not None:
            inputs = vision_inputs(self.vision, prompt, images)
            ids = inputs.pop("input_ids")[0].tolist()
            inputs.pop("attention_mask", None)
            inputs = inputs or None
        else:
            ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        params = self._params(req, len(ids), req.token_budget, "messages")
        opens = bool(fmt.thinks and thinking != "off" and prompt.rstrip().endswith(fmt.reasoning_open or ""))
        return Prepared(
            prompt_ids=list(ids),
            params=params,
            stop=[*fmt.stop_strings, *(req.stop or [])],
            parse_tools=bool(req.tools) and req.tool_choice != "none",
            opens_reasoning=opens,
            inputs=inputs,
        )

    def _thinking(self, req: ChatCompletionRequest) -> str | None:
        """The thinking switch ("on"/"off"): `chat_template_kwargs[<switch>]` (vLLM's way), else
        `reasoning_effort` ("none" turns it off), else None: the family's default."""
        switch = self.formatting.reasoning_switch
        kwargs = req.chat_template_kwargs or {}
        if switch and switch in kwargs:
            return "on" if kwargs[switch] else "off"
        if req.reasoning_effort is not None and self.formatting.thinks:
            return "off" if req.reasoning_effort == "none" else "on"
        return None

    def output_for(self, prep: Prepared) -> ChatOutput:
        """A fresh parser for one choice of a prepared chat request."""
        return ChatOutput(
            self.tokenizer, self.formatting, stop=prep.stop, skip_ids=self.backend.stop_ids,
            parse_tools=prep.parse_tools, opens_reasoning=prep.opens_reasoning,
        )

    async def chat(self, req: ChatCompletionRequest, prep: Prepared | None = None) -> ChatCompletion:
        prep = prep or self.prepare_chat(req)
        choices: list[ChatChoice] = []
        completion_tokens = 0
        for index in range(req.n):
            out, done = self.output_for(prep), _Done()
            async for _ in self._run(prep, index, out.push_token, out, done):
                pass
            result = out.finish()
            completion_tokens += done.count
            choices.append(ChatChoice(index=index, message=_message(result), finish_reason=_finish(done, result)))
        return ChatCompletion(
            id=new_id("chatcmpl"), created=now(), model=self.model_name, choices=choices,
            usage=_usage(len(prep.prompt_ids) * req.n, completion_tokens),
        )

    def chat_stream(self, req: ChatCompletionRequest, prep: Prepared | None = None) -> AsyncIterator[str]:
        """SSE `data:` lines. Checks run here, before the first line, so a bad request is still a 4xx."""
        prep = prep or self.prepare_chat(req)
        cid, created = new_id("chatcmpl"), now()

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> str:
            return _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": self.model_name,
                         "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}]})

        def deltas(index: int, reasoning: str, content: str) -> list[str]:
            out = [chunk(index, {"reasoning_content": reasoning})] if reasoning else []
            return [*out, chunk(index, {"content": content})] if content else out

        async def gen() -> AsyncIterator[str]:
            completion_tokens = 0
            for index in range(req.n):
                yield chunk(index, {"role": "assistant", "content": ""})
                out, done = self.output_for(prep), _Done()
                pending: list[str] = []

                def on_token(tid: int, index: int = index, out: ChatOutput = out, pending: list[str] = pending) -> None:
                    pending.extend(deltas(index, *out.push_token_streaming(tid)))

                async for _ in self._run(prep, index, on_token, out, done):
                    for line in pending:
                        yield line
                    pending.clear()
                completion_tokens += done.count
                reasoning, content, calls = out.finish_streaming()
                for line in deltas(index, reasoning, content):
                    yield line
                for i, call in enumerate(calls):
                    yield chunk(index, {"tool_calls": [{"index": i, **call.model_dump()}]})
                yield chunk(index, {}, _finish(done, ChatResult(None, None, calls)))
            if req.stream_options and req.stream_options.include_usage:
                usage = _usage(len(prep.prompt_ids) * req.n, completion_tokens)
                yield _sse({"id": cid, "object": "chat.completion.chunk", "created": created,
                            "model": self.model_name, "choices": [], "usage": usage.model_dump()})
            yield "data: [DONE]\n\n"

        return gen()

    # ---- text completions ----------------------------------------------------------------------

    def prepare_completion(self, req: CompletionRequest) -> list[Prepared]:
        self._check_common(req)
        preps = []
        for i, text in enumerate(req.prompts()):
            ids = self.tokenizer(text)["input_ids"]
            params = self._params(req, len(ids), req.max_tokens, "prompt" if i == 0 else f"prompt.{i}")
            preps.append(Prepared(prompt_ids=list(ids), params=params, stop=list(req.stop or [])))
        return preps

    async def complete(self, req: CompletionRequest, preps: list[Prepared] | None = None) -> Completion:
        preps = preps or self.prepare_completion(req)
        choices, prompt_tokens, completion_tokens = [], 0, 0
        for p_index, prep in enumerate(preps):
            for k in range(req.n):
                stream, done = TextStream(self.tokenizer, prep.stop, skip_ids=self.backend.stop_ids), _Done()
                pieces: list[str] = []
                async for _ in self._run(prep, k, lambda t, s=stream, p=pieces: p.append(s.push(t)), stream, done):
                    pass
                text = "".join(pieces) + stream.finish()
                if req.echo:
                    text = self.tokenizer.decode(prep.prompt_ids, skip_special_tokens=False) + text
                choices.append(CompletionChoice(index=p_index * req.n + k, text=text,
                                                finish_reason="length" if done.reason == "length" else "stop"))
                prompt_tokens += len(prep.prompt_ids)
                completion_tokens += done.count
        return Completion(id=new_id("cmpl"), created=now(), model=self.model_name, choices=choices,
                          usage=_usage(prompt_tokens, completion_tokens))

    def complete_stream(self, req: CompletionRequest, preps: list[Prepared] | None = None) -> AsyncIterator[str]:
        preps = preps or self.prepare_completion(req)
        cid, created = new_id("cmpl"), now()

        def chunk(index: int, text: str, finish: str | None = None) -> str:
            return _sse({"id": cid, "object": "text_completion", "created": created, "model": self.model_name,
                         "choices": [{"index": index, "text": text, "finish_reason": finish, "logprobs": None}]})

        async def gen() -> AsyncIterator[str]:
            for p_index, prep in enumerate(preps):
                for k in range(req.n):
                    index = p_index * req.n + k
                    stream, done = TextStream(self.tokenizer, prep.stop, skip_ids=self.backend.stop_ids), _Done()
                    pieces: list[str] = []
                    if req.echo:
                        yield chunk(index, self.tokenizer.decode(prep.prompt_ids, skip_special_tokens=False))
                    async for _ in self._run(prep, k, lambda t, s=stream, p=pieces: p.append(s.push(t)), stream, done):
                        text = "".join(pieces)
                        pieces.clear()
                        if text:
                            yield chunk(index, text)
                    tail = "".join(pieces) + stream.finish()
                    if tail:
                        yield chunk(index, tail)
                    yield chunk(index, "", "length" if done.reason == "length" else "stop")
            yield "data: [DONE]\n\n"

        return gen()

    # ---- driving the back end ------------------------------------------------------------------

    async def _run(self, prep: Prepared, k: int, on_token: Any, stopper: Any, done: _Done) -> AsyncIterator[None]:
        """Run one generation, calling ``on_token`` per token and yielding after each.

        ``stopper.stopped`` turns true when a stop string was seen: the job is cancelled then and
        the finish reason is `stop`. Choice ``k`` of a seeded request uses seed + k, so the n
        choices differ but each is reproducible. Leaving the iteration early (a client that went
        away) cancels the job, so it does not hold up the queue.
        """
        params = prep.params
        if params.seed is not None and k:
            params = SamplingParams(params.max_new_tokens, params.temperature, params.top_p, params.seed + k)
        job: Job | None = None
        async for event in self.backend.astream(prep.prompt_ids, params, prep.inputs):
            if isinstance(event, Job):
                job = event
            elif isinstance(event, TokenEvent):
                if stopper.stopped:  # tokens the worker made before it saw the cancel
                    continue
                on_token(event.token_id)
                done.count += 1
                if stopper.stopped and job is not None:
                    job.cancel()
                yield None
            elif isinstance(event, DoneEvent):
                done.reason = "stop" if event.reason == "cancelled" else event.reason
            elif isinstance(event, ErrorEvent):  # the details are in the server's log, not for the client
                log.error("generation failed: %s", event.message)
                raise ApiError(500, "generation failed", type_="server_error", code="generation_failed")


@dataclass
class _Done:
    reason: str = "stop"
    count: int = 0


def to_template_messages(messages: list[ChatMessage], *, placeholder: str | None = None) -> list[dict[str, Any]]:
    """OpenAI messages as the renderer takes them: plain dicts, tool-call arguments as objects. With a
    ``placeholder`` (a vision-language model's), each image part becomes it, in place."""
    out = []
    for m in messages:
        content = m.text_with_images(placeholder) if placeholder is not None else m.text()
        msg: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role, "content": content}
        if m.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.function.name, "arguments": _arguments(c.function.arguments)}}
                for c in m.tool_calls
            ]
        if m.tool_call_id:
            msg["tool_call_id"] = m.tool_call_id
        if m.name:
            msg["name"] = m.name
        if m.reasoning_content:
            msg["reasoning_content"] = m.reasoning_content
        out.append(msg)
    return out


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ApiError(400, f"tool call arguments are not valid JSON: {text[:80]!r}",
                       param="messages", code="invalid_value") from None


def _message(result: ChatResult) -> ResponseMessage:
    return ResponseMessage(
        content=result.content if (result.content or not result.tool_calls) else None,
        reasoning_content=result.reasoning,
        tool_calls=result.tool_calls or None,
    )


def _finish(done: _Done, result: ChatResult) -> Any:
    if result.tool_calls:
        return "tool_calls"
    return "length" if done.reason == "length" else "stop"


def _usage(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _sse(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
