"""The OpenAI wire format, as pydantic models: what requests may say and what responses say back.

Requests are validated here so that a bad parameter becomes a 400 with the parameter named, before
any prompt is rendered or any token generated. Fields the OpenAI API defines but this server cannot
honour (logprobs, penalties, constrained tool choice) are accepted only at their neutral value;
anything else is refused with `NotSupportedError` naming it, never silently ignored.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "developer", "user", "assistant", "tool"]


class _Lenient(BaseModel):
    """Unknown fields are tolerated (clients send `user`, `metadata`, ...); known ones are typed."""

    model_config = ConfigDict(extra="ignore")


class FunctionCall(_Lenient):
    name: str
    arguments: str = Field(description="JSON text of the arguments, as the OpenAI API sends it.")


class ToolCall(_Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(_Lenient):
    type: Literal["text"]
    text: str


class ImageUrl(_Lenient):
    url: str = Field(description="A `data:image/...;base64,` URI, or http(s) when the server allows image URLs.")
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Lenient):
    """An image, OpenAI's way; decoded and bounded by `images.py`, served by vision-language models only."""

    type: Literal["image_url"]
    image_url: ImageUrl


Part = Annotated[ContentPart | ImagePart, Field(discriminator="type")]


class ChatMessage(_Lenient):
    role: Role
    content: str | list[Part] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _part_types(cls, value: Any) -> Any:
        """Name the part and its type, rather than pydantic's union of every shape that did not fit."""
        if isinstance(value, list):
            for j, part in enumerate(value):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in ("text", "image_url"):
                    raise ValueError(f"content part {j} has type {kind!r}; this server takes `text` and `image_url` parts")
                if kind == "image_url" and not isinstance(part.get("image_url"), dict):
                    raise ValueError(f"content part {j} (`image_url`) needs an `image_url` object with a `url`")
        return value

    @model_validator(mode="after")
    def _role_fields(self) -> ChatMessage:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a `tool` message needs `tool_call_id`")
        if self.role != "assistant" and self.tool_calls:
            raise ValueError(f"only assistant messages carry `tool_calls`, not `{self.role}`")
        if self.role != "assistant" and self.content is None:
            raise ValueError(f"a `{self.role}` message needs `content`")
        if self.role != "user" and self.has_images:
            raise ValueError(f"image parts belong in `user` messages, not `{self.role}`")
        return self

    @property
    def has_images(self) -> bool:
        return isinstance(self.content, list) and any(part.type == "image_url" for part in self.content)

    def text(self) -> str:
        """The content as one string: text parts joined (a message with images is refused before this
        by a text-only model, and rendered with `text_with_images` by a vision-language one)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, ContentPart))

    def text_with_images(self, placeholder: str) -> str:
        """The content as one string with ``placeholder`` (the family's `vision.placeholder`) where each image
        part stood: what training renders for an image part (`sdk/templates/vision.py`), so the served prompt
        is the trained one, through the official template or the family's format alike."""
        if not isinstance(self.content, list):
            return self.text()
        return "".join(p.text if isinstance(p, ContentPart) else placeholder for p in self.content)


class FunctionDef(_Lenient):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Tool(_Lenient):
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedToolChoice(_Lenient):
    type: Literal["function"] = "function"
    function: dict[str, str]


class StreamOptions(_Lenient):
    include_usage: bool = False


class SamplingFields(_Lenient):
    """Sampling parameters shared by chat and text completions, with the OpenAI API's ranges."""

    model: str
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=16)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 17)  # torch's seed range, less n - 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: bool | int | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str] | None:
        if value is None:
            return None
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4:
            raise ValueError(f"at most 4 stop sequences are allowed, got {len(stops)}")
        if any(not s for s in stops):
            raise ValueError("stop sequences must not be empty")
        return stops

    def unsupported(self) -> list[str]:
        """OpenAI parameters set to something this server does not implement."""
        out = []
        if self.presence_penalty:
            out.append("presence_penalty")
        if self.frequency_penalty:
            out.append("frequency_penalty")
        if self.logprobs:
            out.append("logprobs")
        return out


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    chat_template_kwargs: dict[str, Any] | None = Field(
        default=None, description="vLLM's extension: variables for the template, e.g. the thinking switch."
    )
    response_format: dict[str, Any] | None = Field(
        default=None, description="JSON mode / JSON schema: needs constrained decoding (vLLM has it; hf does not)."
    )

    @property
    def token_budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def unsupported(self) -> list[str]:
        """As the base class, plus `response_format` other than plain text: the hf back end has no
        constrained decoding, and a reply that merely looks like JSON must not pass for one."""
        out = super().unsupported()
        if self.response_format and self.response_format.get("type", "text") != "text":
            out.append("response_format")
        return out


class CompletionRequest(SamplingFields):
    prompt: str | list[str]
    max_tokens: int | None = Field(default=16, ge=1)
    echo: bool = False

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("`prompt` must not be an empty list")
        return value

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


# ---- responses ------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(BaseModel):
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "dayzero"
    root: str | None = None
    parent: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
