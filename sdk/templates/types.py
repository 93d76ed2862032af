"""The plain data the renderer hands out: segments of rendered text, and tokens with labels."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dayzero.errors import TemplateError, Where

IGNORE_INDEX = -100
"""Label of a token that is not trained (the value PyTorch's cross-entropy ignores)."""

ROLES = ("system", "user", "assistant", "tool")


class Segment(NamedTuple):
    """A piece of rendered text and whether it is trained.

    ``role`` is the role of the message the text belongs to, or ``""`` for framing text that belongs
    to no message (the bos token, a tools block of its own, the generation prompt).

    Immutable like the frozen dataclass it was, and a named tuple because preprocessing builds about a
    dozen per conversation: a tuple is built several times faster than a frozen dataclass (issue 15).
    """

    text: str
    role: str
    message_index: int | None
    trained: bool


@dataclass(frozen=True)
class Encoded:
    """Token ids and labels of one conversation; ``labels[i]`` is ``input_ids[i]`` or -100."""

    input_ids: list[int]
    labels: list[int]
    text: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, list[int]]:
        return {"input_ids": list(self.input_ids), "labels": list(self.labels)}


@dataclass
class Message:
    """One message, checked and normalised: content is a string, tool calls are a list."""

    index: int
    role: str
    content: str
    tool_calls: list[dict[str, Any]]
    reasoning: str | None
    train: bool
    raw: dict[str, Any]


_PLAIN_KEYS = frozenset(("role", "content"))


def normalize(messages: list[dict[str, Any]]) -> list[Message]:
    """Check OpenAI-style messages; errors name the message index and field."""
    if not isinstance(messages, list):
        raise TemplateError(f"messages must be a list of dicts, got {type(messages).__name__}")
    out: list[Message] = []
    plain = _PLAIN_KEYS.issuperset
    for i, raw in enumerate(messages):
        # The common message (a role and a text, nothing else) checked in three lookups: preprocessing
        # normalizes every message of every row, and the full checks below cost more than rendering it.
        if type(raw) is dict and plain(raw) and raw.get("role") in ROLES and type(raw.get("content")) is str:
            out.append(Message(i, raw["role"], raw["content"], [], None, True, raw))
            continue
        if not isinstance(raw, dict):
            raise TemplateError(f"a message must be a dict, got {type(raw).__name__}", where=Where(field=f"messages[{i}]"))
        role = raw.get("role")
        if role not in ROLES:
            raise TemplateError(f"unknown role {role!r}; expected one of {list(ROLES)}", where=Where(field=f"messages[{i}].role"))
        content = raw.get("content")
        if content is None:
            content = ""
        if isinstance(content, list):  # OpenAI content parts: only text parts are supported
            parts = []
            for part in content:
                if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                    raise TemplateError("only text content parts are supported", where=Where(field=f"messages[{i}].content"))
                parts.append(part["text"])
            content = "".join(parts)
        if not isinstance(content, str):
            raise TemplateError(f"content must be a string, got {type(content).__name__}", where=Where(field=f"messages[{i}].content"))
        calls = raw.get("tool_calls") or []
        if calls and role != "assistant":
            raise TemplateError("only assistant messages carry tool_calls", where=Where(field=f"messages[{i}].tool_calls"))
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not (isinstance(fn, dict) and isinstance(fn.get("name"), str)):
                raise TemplateError(
                    "a tool call needs {'function': {'name': ..., 'arguments': ...}}",
                    where=Where(field=f"messages[{i}].tool_calls[{j}]"),
                )
        reasoning = raw.get("reasoning_content", raw.get("reasoning"))
        if reasoning is not None and not isinstance(reasoning, str):
            raise TemplateError("reasoning_content must be a string", where=Where(field=f"messages[{i}].reasoning_content"))
        train = raw.get("train", True)
        if not isinstance(train, bool):
            raise TemplateError("train must be true or false", where=Where(field=f"messages[{i}].train"))
        out.append(Message(i, role, content, list(calls), reasoning, train, raw))
    return out


def arguments_object(arguments: Any) -> Any:
    """A tool call's arguments as an object: a JSON string is parsed, anything else kept."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return arguments
    return arguments


def served_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A conversation as it reaches a template through a server or dayzero's data loader: tool-call arguments
    sent as JSON text are objects again (vLLM's `_postprocess_messages`, Ollama's API, `dayzero serve` and
    `data/formats.py` all parse them), so a template's `tojson` writes the object, never an escaped string."""
    out = []
    for m in messages:
        calls = m.get("tool_calls")
        if calls:
            m = {**m, "tool_calls": [
                {**c, "function": {**c["function"], "arguments": arguments_object(c["function"].get("arguments", {}))}}
                for c in calls
            ]}
        out.append(m)
    return out


def dumps(value: Any, indent: int | None = None) -> str:
    """JSON exactly as transformers' ``tojson`` filter writes it (non-ASCII kept, default separators)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)
