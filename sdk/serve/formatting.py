"""What the server needs from a family's chat format, bound once at start-up.

Prompts are rendered by `dayzero.sdk.templates` (the code training uses, so a served model sees
the same text it was trained on); tool calls are parsed by the family's dialect extractor and
reasoning is split at the family's delimiters. Everything here is read from the family's view
(`dayzero.registry.view.FamilyView`, what a run recorded), never branched on a family id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dayzero.registry import Family
from dayzero.registry.view import FamilyView

Render = Callable[..., str]
ToolExtract = Callable[[str], tuple[str, list[dict[str, Any]]]]
ReasoningSplit = Callable[[str], tuple[str | None, str]]


@dataclass
class ChatFormatting:
    """Rendering and parsing for one served model."""

    render: Render
    stop_strings: list[str] = field(default_factory=list)
    tool_extract: ToolExtract | None = None
    tool_marker: str | None = None  # text that opens a tool call, when the dialect says
    reasoning_split: ReasoningSplit | None = None
    reasoning_open: str | None = None
    reasoning_close: str | None = None
    reasoning_switch: str | None = None
    reasoning_always: bool = False  # the model always thinks: a closing tag alone marks the reasoning
    answer_headers: list[str] = field(default_factory=list)  # an assistant turn's opening, dropped from answers
    family_id: str | None = None

    @property
    def thinks(self) -> bool:
        return self.reasoning_open is not None and self.reasoning_close is not None

    @classmethod
    def for_family(cls, family: Family, chat_template: str | None = None, tokenizer: Any = None) -> ChatFormatting:
        """`for_view` of the family as the bundled registry has it (for code that holds no recorded view)."""
        from dayzero import registry
        from dayzero.registry.view import view_of

        return cls.for_view(view_of(registry.default(), family), chat_template, tokenizer)

    @classmethod
    def for_view(cls, view: FamilyView, chat_template: str | None = None, tokenizer: Any = None) -> ChatFormatting:
        """The family's formatting; ``chat_template`` (Jinja source) renders instead of the format.

        A model exported with its own ``chat_template.jinja`` is served with that template, through
        the same sandboxed renderer training uses.
        """
        from dayzero.sdk.templates import ChatTemplate, get_dialect, split_reasoning

        family, fmt = view.family, view.format
        if chat_template is not None:
            kwargs: dict[str, Any] = {}
            if tokenizer is not None:
                kwargs = {"bos_token": tokenizer.bos_token or "", "eos_token": tokenizer.eos_token or ""}
            tpl = ChatTemplate.from_official(chat_template, family=view, **kwargs)
        else:
            tpl = ChatTemplate.for_view(view)
        extract: ToolExtract | None = None
        marker: str | None = None
        if family.template.tool_dialect:
            dialect = get_dialect(family.template.tool_dialect)
            extract = dialect.extract
            marker = _dialect_marker(dialect)
        reasoning = family.template.reasoning
        thinks = reasoning.mode != "none"  # a str enum (or its value): both compare to the string
        split: ReasoningSplit | None = None
        if thinks:
            def split(text: str) -> tuple[str | None, str]:
                return split_reasoning(text, reasoning)

        opening = fmt.assistant.split("{content}", 1)[0]
        prefix = getattr(fmt, "content_prefix", None) or ""  # text the answer itself starts with, if any
        headers = [h + prefix for h in (opening, opening.removeprefix(fmt.generation_prompt))]
        headers = [h for h in dict.fromkeys(headers) if h.strip()]
        return cls(
            render=tpl.render,
            stop_strings=view.stop_strings,
            tool_extract=extract,
            tool_marker=marker,
            reasoning_split=split,
            reasoning_open=reasoning.open if thinks else None,
            reasoning_close=reasoning.close if thinks else None,
            reasoning_switch=reasoning.switch,
            reasoning_always=thinks and str(getattr(reasoning.mode, "value", reasoning.mode)) == "always",
            answer_headers=headers,
            family_id=family.id,
        )


def _dialect_marker(dialect: Any) -> str | None:
    """The text a dialect's tool calls start with, if it publishes one (else output is held whole)."""
    for name in ("start", "open", "marker", "begin"):
        value = getattr(dialect, name, None)
        if isinstance(value, str) and value:
            return value
    return None
