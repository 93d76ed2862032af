"""One chat choice's output: generated tokens in, reasoning / answer / tool calls out.

The non-streaming path parses the whole text with the template module's own parsers
(`split_reasoning`, the dialect's `extract`), exactly as they are tested against the family.
The streaming path sends reasoning and answer text as it is generated and holds back a tool call
from its opening marker on, parsing it with the same extractor when generation ends.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from .formatting import ChatFormatting
from .schemas import FunctionCall, ToolCall
from .text_stream import HoldFrom, ReasoningSplitter, StripHeader, TextStream, strip_header


@dataclass
class ChatResult:
    reasoning: str | None
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)


class ChatOutput:
    def __init__(
        self,
        tokenizer: Any,
        formatting: ChatFormatting,
        *,
        stop: list[str],
        skip_ids: list[int],
        parse_tools: bool,
        opens_reasoning: bool,
    ) -> None:
        self.fmt = formatting
        self.text = TextStream(tokenizer, stop, skip_ids)
        self.pieces: list[str] = []
        self.parse_tools = parse_tools
        self.opens_reasoning = opens_reasoning
        self.splitter = (
            ReasoningSplitter(formatting.reasoning_open or "", formatting.reasoning_close or "",
                              in_reasoning=opens_reasoning, close_keyed=formatting.reasoning_always)
            if formatting.thinks else None
        )
        self.header = StripHeader(formatting.answer_headers)
        self.hold = HoldFrom(formatting.tool_marker) if parse_tools else None
        self.tokenizer = tokenizer
        self.skip_ids = set(skip_ids)
        self.last_id: int | None = None

    @property
    def stopped(self) -> bool:
        """A stop sequence was generated: the generation should end."""
        return self.text.stopped

    # ---- whole output ------------------------------------------------------------------------

    def push_token(self, token_id: int) -> None:
        self.last_id = token_id
        self.pieces.append(self.text.push(token_id))

    def finish(self) -> ChatResult:
        raw = "".join(self.pieces) + self.text.finish()
        reasoning: str | None = None
        content = raw
        if self.fmt.reasoning_split is not None:
            opened = self.opens_reasoning and (self.fmt.reasoning_close or "") in raw
            source = (self.fmt.reasoning_open or "") + raw if opened else raw
            reasoning, content = self.fmt.reasoning_split(source)
        content = strip_header(content, self.fmt.answer_headers)
        calls: list[ToolCall] = []
        if self.parse_tools:
            content, calls = self._extract(content)
        return ChatResult(reasoning or None, content, calls)

    def _extract(self, text: str) -> tuple[str, list[ToolCall]]:
        """Tool calls in ``text``; where a dialect's call ends with the end-of-turn token itself
        (harmony's `<|call|>`, which stopped generation and was not decoded), it is put back."""
        if self.fmt.tool_extract is None:
            return text, []
        content, found = self.fmt.tool_extract(text)
        end = self._end_text()
        if not found and end:
            with_end, found_end = self.fmt.tool_extract(text + end)
            if found_end:
                content, found = with_end, found_end
        return content, [to_tool_call(c) for c in found]

    def _end_text(self) -> str:
        if self.last_id is None or self.last_id not in self.skip_ids:
            return ""
        return self.tokenizer.decode([self.last_id], skip_special_tokens=False)

    # ---- streamed output ---------------------------------------------------------------------

    def push_token_streaming(self, token_id: int) -> tuple[str, str]:
        """(reasoning delta, answer delta) made safe to send by this token."""
        self.last_id = token_id
        return self._route(self.text.push(token_id), final=False)

    def finish_streaming(self) -> tuple[str, str, list[ToolCall]]:
        """The held-back text, and the tool calls parsed from it."""
        reasoning, content = self._route(self.text.finish(), final=True)
        calls: list[ToolCall] = []
        if self.hold is not None and self.hold.held:
            rest, calls = self._extract(self.hold.held)
            content += rest
        return reasoning, content, calls

    def _route(self, delta: str, *, final: bool) -> tuple[str, str]:
        reasoning, content = ("", delta) if self.splitter is None else self.splitter.push(delta, final=final)
        content = self.header.push(content, final=final)
        if self.hold is not None:
            content = self.hold.push(content, final=final)
        return reasoning, content


def to_tool_call(item: Any) -> ToolCall:
    """A tool call from a dialect extractor, in the OpenAI shape (arguments as JSON text)."""
    if isinstance(item, ToolCall):
        return item
    data = item if isinstance(item, dict) else getattr(item, "__dict__", {})
    fn = data.get("function", data)
    name = fn.get("name") if isinstance(fn, dict) else getattr(item, "name", None)
    args = fn.get("arguments", {}) if isinstance(fn, dict) else getattr(item, "arguments", {})
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    call_id = data.get("id") or f"call_{uuid.uuid4().hex[:24]}"
    return ToolCall(id=call_id, function=FunctionCall(name=str(name), arguments=text))
