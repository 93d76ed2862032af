"""The structured renderer: a conversation to text segments, from format data alone.

The format (``families/formats/<id>.yaml``) and the family's ``template`` section are the only
inputs; every official-template quirk the renderer reproduces is a field there. The walk below is
mirrored step for step by the generated Jinja (``jinja_gen.py``); a property test keeps the two equal.

Trained text: each assistant turn's reasoning block, content and tool calls, and the slot text after
the content up to and including the end-of-turn token. Everything else is untrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from dayzero.errors import TemplateError, Where
from dayzero.registry.schema import ChatFormat, FamilyTemplate

from .dialects import Dialect, get_dialect
from .reasoning import split_text
from .types import Message, Segment, dumps, normalize
from .typescript import ts_function

THINKING_VALUES = ("on", "off", "keep")


@dataclass(frozen=True)
class Spec:
    """Everything the structured renderer reads: format, family facts and the special-token texts."""

    fmt: ChatFormat
    family: FamilyTemplate
    bos_token: str = ""
    eos_token: str = ""
    date: datetime | None = None

    @property
    def dialect(self) -> Dialect | None:
        return get_dialect(self.family.tool_dialect) if self.family.tool_dialect else None


def thinking_state(spec: Spec, thinking: str | None) -> tuple[bool, bool]:
    """(thinking on?, keep reasoning in every turn?) for a ``thinking`` option."""
    if thinking is not None and thinking not in THINKING_VALUES:
        raise TemplateError(f"thinking must be one of {list(THINKING_VALUES)} or None, got {thinking!r}")
    mode = spec.family.reasoning.mode
    if mode == "none":
        return False, False
    if mode == "always":
        return True, thinking == "keep"
    on = spec.family.reasoning.default_on if thinking is None else thinking != "off"
    return on, thinking == "keep"


class _Out:
    """Collects segments; handles an end-of-turn that the next turn writes (GLM-4)."""

    def __init__(self, spec: Spec) -> None:
        self.segments: list[Segment] = []
        self.eots = [e for e in (spec.fmt.end_of_turn, *spec.fmt.end_of_turn_also) if e]
        self.pending: Message | None = None  # an assistant turn whose end-of-turn the next text opens with

    def add(self, text: str, role: str, index: int | None, trained: bool = False) -> None:
        if self.pending is not None and text:
            owner, self.pending = self.pending, None
            eot = next((e for e in self.eots if text.startswith(e)), None)
            if eot is not None:
                self.segments.append(_segment((eot, "assistant", owner.index, owner.train)))
                text = text[len(eot):]
        if text:
            self.segments.append(_segment((text, role, index, trained)))


# Segment(text, role, index, trained) without the named tuple's Python-level __new__: the renderer makes a
# dozen per conversation and preprocessing renders every row (issue 15).
_segment = partial(tuple.__new__, Segment)


@lru_cache(maxsize=1024)
def _slot(slot: str) -> tuple[str, str]:
    """A slot's text before and after `{content}` (cached: a few slot strings per format, split per message)."""
    before, after = slot.split("{content}", 1)
    return before, after


@lru_cache(maxsize=1024)
def _after_eot(after: str, eot: str) -> tuple[str, str] | None:
    """An assistant slot's text after `{content}` split after its end-of-turn (trained, untrained), or None
    when the end-of-turn is not in it (a tool-call slot that ends otherwise: `<|call|>`)."""
    if eot not in after:
        return None
    cut = after.index(eot) + len(eot)
    return after[:cut], after[cut:]


def _trim(spec: Spec, role: str, text: str) -> str:
    return text.strip() if role in spec.fmt.trim else text


def _tools_text(spec: Spec, tools: list[dict[str, Any]]) -> str:
    layout = spec.fmt.tools
    assert layout is not None
    declare = ts_function if layout.item_style == "typescript" else (lambda t: dumps(t, layout.json_indent))
    items = []
    for t in tools:
        fn = t.get("function", t)
        fields = {"{name}": str(fn.get("name", "")), "{description}": str(fn.get("description", "")),
                  "{parameters}": dumps(fn.get("parameters", {}))}
        item = layout.item.replace("{tool}", declare(t)) if "{tool}" in layout.item else layout.item
        for key, value in fields.items():
            item = item.replace(key, value)
        items.append(item)
    return layout.block.replace("{tools}", layout.joiner.join(items))


def number_or_text(text: str) -> Any:
    """An int or float when ``text`` reads back as one exactly, else ``text`` (Mistral v3's `|int`/`|float` test)."""
    try:
        as_int = int(text)
    except ValueError:
        try:
            as_int = int(float(text))
        except (ValueError, OverflowError):
            as_int = 0
    if str(as_int) == text:
        return as_int
    try:
        as_float = float(text)
    except ValueError:
        as_float = 0.0
    return as_float if str(as_float) == text else text


def _today(spec: Spec) -> str:
    """`{date}`: the format's pinned date, else the renderer's date (tests), else today."""
    if spec.fmt.fixed_date is not None:
        return spec.fmt.fixed_date
    return (spec.date or datetime.now()).strftime(spec.fmt.date_format)


def _default_system(spec: Spec) -> str | None:
    text = spec.family.default_system
    return text.replace("{date}", _today(spec)) if text is not None and "{date}" in text else text


def _system_content(spec: Spec, system: str | None, tools: list[dict[str, Any]] | None) -> str | None:
    """The system turn's content, or None when no system turn is written."""
    fmt, layout = spec.fmt, spec.fmt.tools
    with_tools = bool(tools) and layout is not None and layout.placement == "system"
    if system is None and not with_tools and not fmt.system_always:
        return None
    text = system if system is not None else ""
    if with_tools:
        text = (text + layout.separator if system is not None else "") + _tools_text(spec, tools or [])
    preamble = fmt.system_preamble
    if "{date}" in preamble:  # formatting today's date costs more than the rest of a short render
        preamble = preamble.replace("{date}", _today(spec))
    prefix = layout.system_prefix if tools and layout is not None else ""
    suffix = layout.system_suffix if tools and layout is not None else ""
    return prefix + preamble + text + suffix


def trims_newlines(spec: Spec) -> bool:
    r = spec.family.reasoning
    return r.trim_newlines if r.trim_newlines is not None else r.history != "strip"


def _assistant_parts(spec: Spec, m: Message) -> tuple[str | None, str]:
    """(reasoning, content) of an assistant turn; reasoning inside the content is split out (Qwen3, R1)."""
    r = spec.family.reasoning
    content, reasoning = _trim(spec, "assistant", m.content), m.reasoning
    if r.mode != "none" and reasoning is None and r.close and r.close in content:
        reasoning, content = split_text(content, r.open or "", r.close, trim_newlines=trims_newlines(spec))
    return reasoning, content


def _assistant_body(spec: Spec, m: Message, reasoning: str | None, content: str, show_block: bool,
                    answered_later: bool = False) -> str:
    """Reasoning block, content and tool calls of an assistant turn: the trained text before the end-of-turn."""
    r = spec.family.reasoning
    body = spec.fmt.content_prefix + content
    if show_block:
        trim = trims_newlines(spec)
        block = r.block.replace("{open}", r.open or "").replace("{close}", r.close or "")
        text = (reasoning or "").strip("\n") if trim else (reasoning or "")
        body = block.replace("{reasoning}", text) + spec.fmt.content_prefix + (content.lstrip("\n") if trim else content)
    if m.tool_calls:
        layout = spec.fmt.tool_calls
        if spec.dialect is None:
            raise TemplateError(
                "this family has no tool-call dialect", where=Where(field=f"messages[{m.index}].tool_calls")
            )
        if layout.single and len(m.tool_calls) > 1:
            raise TemplateError(
                "this template supports one tool call per turn", where=Where(field=f"messages[{m.index}].tool_calls")
            )
        if layout.content == "reject" and content:
            raise TemplateError(
                "this template refuses text next to tool calls", where=Where(field=f"messages[{m.index}].content")
            )
        calls = spec.dialect.format(m.tool_calls)
        if layout.content == "drop":
            body = calls
        elif layout.wrap is not None:  # gpt-oss: the text (or reasoning) as an analysis message before the call
            text = content
            if layout.wrap_reasoning and reasoning:
                if content:
                    raise TemplateError("this template refuses both text and reasoning next to tool calls",
                                        where=Where(field=f"messages[{m.index}].content"))
                text = reasoning
            shown = text and not (layout.wrap_until_answer and answered_later)
            body = (layout.wrap.replace("{content}", text) if shown else "") + calls
        else:  # the separator follows the content, not a reasoning block (Qwen3: `loop.first and content`)
            body = body + (layout.separator if content else "") + calls
    return body


def _shows_block(spec: Spec, has: bool, i: int, last: int, last_user: int, keep: bool, gp: bool) -> bool:
    """Whether assistant turn ``i`` (of ``last + 1`` non-system messages) gets a reasoning block."""
    r = spec.family.reasoning
    if r.mode == "none":
        return False
    if keep:
        return has
    if r.history == "strip":
        return False
    if r.history == "last_only" and (i != last or gp):
        return False
    if r.history == "strip_before_last_user" and i <= last_user:
        return False
    if has:
        return True
    return r.render_empty == "last" and i == last


def render_segments(
    spec: Spec,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = False,
    thinking: str | None = None,
) -> list[Segment]:
    """The conversation as segments whose texts join to the rendered string."""
    fmt, fam = spec.fmt, spec.family
    msgs = normalize(messages)
    on, keep = thinking_state(spec, thinking)
    if tools and (fmt.tools is None or fam.tool_dialect is None):
        why = "no tool dialect" if fam.tool_dialect is None else "no `tools` layout (its official template writes none)"
        raise TemplateError(f"chat format {fmt.id!r} has no place for a tools list: {why}",
                            hint="describe the tools in the system message yourself, or drop `tools`")
    out = _Out(spec)
    if fmt.bos:
        out.add(spec.bos_token, "", None)
    out.add(fmt.prefix, "", None)

    system_msg = msgs[0] if msgs and msgs[0].role == "system" else None
    body = msgs[1:] if system_msg else msgs
    for m in body:
        if m.role == "system" and fmt.system_support != "native":
            raise TemplateError("a system message past the first is not supported by this format",
                                where=Where(field=f"messages[{m.index}].role"))
    if fmt.alternate:
        for k, m in enumerate(body):
            if (m.role == "user") != (k % 2 == 0):
                raise TemplateError("Conversation roles must alternate user/assistant/user/assistant/...",
                                    where=Where(field=f"messages[{m.index}].role"))
    if system_msg and fmt.system_support == "reject":
        raise TemplateError("this chat format rejects a system message", where=Where(field="messages[0].role"),
                            hint="fold it into the first user message yourself")
    system = _trim(spec, "system", system_msg.content) if system_msg else _default_system(spec)
    if system_msg and fmt.skip_empty_system and not system:
        system = None
    if fmt.system_support == "none":
        system = None
    sys_index = system_msg.index if system_msg else None
    fold = None
    if fmt.system_support == "native" and fmt.developer is not None:
        # harmony: a fixed system header, then a developer turn with the system message and the tools
        layout = fmt.tools
        header = _system_content(spec, None, None) or ""
        if tools and layout is not None:
            header = layout.system_prefix + header + layout.system_suffix
        before, after = _slot(fmt.system or "{content}")
        out.add(before + header + after, "", None)
        dev = fmt.developer_instructions.replace("{content}", system) if system else ""
        if tools and layout is not None and layout.placement == "system":
            dev += layout.separator if dev else ""
            dev += _tools_text(spec, tools)
        if dev:
            before, after = _slot(fmt.developer)
            out.add(before + dev + after, "system", sys_index)
    elif fmt.system_support == "native":
        content = _system_content(spec, system, tools)
        if content is not None:
            before, after = _slot(fmt.system or "{content}")
            out.add(before + content + after, "system", sys_index)
    elif system is not None:
        fold = system

    users = [j for j, m in enumerate(body) if m.role == "user"]
    # Per-format constants of the loop below, looked up once per conversation rather than once per message.
    user_before, user_after = _slot(fmt.user)
    trim_user, trim_assistant = "user" in fmt.trim, "assistant" in fmt.trim
    plain_answers = fam.reasoning.mode == "none"  # no reasoning block: an answer is its content
    content_prefix, assistant_slot, after_tool_slot = fmt.content_prefix, fmt.assistant, fmt.assistant_after_tool
    eot_in_slot, final_eot = fmt.end_of_turn_in_slot, fmt.final_end_of_turn
    last_pos = len(body) - 1
    add = out.add
    last_user_pos = users[-1] if users else len(body) - 1  # no user message: no turn is "after the last user"
    placement = fmt.tools.placement if (tools and fmt.tools) else None
    if placement == "first_user" and not users:
        raise TemplateError("the tools list goes into the first user message, and there is none")
    # in positions of `body`; reasoning history is relative to the last user message
    tool_run = False
    last_call: str | None = None  # the function of the latest tool call, for `{tool_name}` in tool results
    # the last assistant message without tool calls: the turns before it are "answered later" (gpt-oss)
    last_answer = max((j for j, b in enumerate(body) if b.role == "assistant" and not b.tool_calls), default=-1)
    fold_at = (users[0] if fmt.system_support == "fold_first_user" else users[-1]) if fold is not None and users else -1
    for j, m in enumerate(body):
        role = m.role
        if role == "user":
            content = m.content.strip() if trim_user else m.content
            if placement is not None:
                if placement == "first_user" and j == users[0]:
                    layout = fmt.tools
                    assert layout is not None
                    content = _tools_text(spec, tools or []) + layout.separator + content
                if placement == "before_last_user" and j == last_user_pos:
                    add(_tools_text(spec, tools or []), "", None)
            if j == fold_at:
                content = fmt.fold.replace("{system}", fold or "").replace("{content}", content)
            add(user_before + content + user_after, "user", m.index)
        elif role == "assistant" and plain_answers and not m.tool_calls and (
            after_tool_slot is None or j == 0 or body[j - 1].role != "tool"
        ):  # the common answer, as the general branch below writes it
            before, after = _slot(assistant_slot)
            eot = fmt.end_of_turn
            final = j == last_pos and not add_generation_prompt
            if final_eot is not None and final and eot in after:
                after, eot = after.replace(eot, final_eot, 1), final_eot
            text = content_prefix + (m.content.strip() if trim_assistant else m.content)
            add(before, "assistant", m.index)
            last_call = None
            split = _after_eot(after, eot) if eot_in_slot else None
            if not eot_in_slot:
                add(text, "assistant", m.index, m.train)
                add(after, "assistant", m.index)
                out.pending = m
            elif split is None:
                add(text + after, "assistant", m.index, m.train)
            else:
                add(text + split[0], "assistant", m.index, m.train)
                add(fmt.final_tail if final and fmt.final_tail is not None else split[1], "assistant", m.index)
        elif role == "system":
            before, after = _slot(fmt.system or "{content}")
            out.add(before + _trim(spec, "system", m.content) + after, "system", m.index)
        elif m.role == "assistant":
            reasoning, content = _assistant_parts(spec, m)
            show = _shows_block(spec, bool(reasoning), j, len(body) - 1, last_user_pos, keep, add_generation_prompt)
            text = _assistant_body(spec, m, reasoning, content, show, j < last_answer)
            slot = fmt.tool_calls.slot if (m.tool_calls and fmt.tool_calls.slot) else fmt.assistant
            if fmt.assistant_after_tool is not None and j > 0 and body[j - 1].role == "tool":
                slot = fmt.assistant_after_tool
            before, after = _slot(slot)
            eot = fmt.end_of_turn
            final = j == len(body) - 1 and not add_generation_prompt
            if fmt.final_end_of_turn is not None and final and eot in after:
                after, eot = after.replace(eot, fmt.final_end_of_turn, 1), fmt.final_end_of_turn
            out.add(before, "assistant", m.index)
            last_call = m.tool_calls[0]["function"]["name"] if m.tool_calls else None
            if fmt.end_of_turn_in_slot and eot not in after:  # a tool-call slot that ends otherwise (<|call|>)
                out.add(text + after, "assistant", m.index, m.train)
            elif fmt.end_of_turn_in_slot:
                cut = after.index(eot) + len(eot)
                out.add(text + after[:cut], "assistant", m.index, m.train)
                out.add(fmt.final_tail if final and fmt.final_tail is not None else after[cut:], "assistant", m.index)
            else:
                out.add(text, "assistant", m.index, m.train)
                out.add(after, "assistant", m.index)
                out.pending = m
        else:  # tool
            nxt = body[j + 1] if j + 1 < len(body) else None
            if fmt.tool is None:
                raise TemplateError(f"chat format {fmt.id!r} has no slot for tool results",
                                    where=Where(field=f"messages[{m.index}].role"))
            out.add(fmt.tool_joiner if tool_run else fmt.tool_open, "tool", m.index)
            content = _trim(spec, "tool", m.content)
            if fmt.tool_content == "json":
                content = dumps(content)
            elif fmt.tool_content == "json_number":
                content = dumps(number_or_text(content))
            before, after = _slot(fmt.tool)
            call_id = str(m.raw.get("tool_call_id") or "")
            if "{tool_name}" in fmt.tool and last_call is None:
                raise TemplateError("a tool result must follow an assistant tool call",
                                    where=Where(field=f"messages[{m.index}].role"))
            for key, value in (("{tool_call_id}", call_id), ("{tool_name}", last_call or "")):
                before, after = before.replace(key, value), after.replace(key, value)
            out.add(before + content + after, "tool", m.index)
            tool_run = nxt is not None and nxt.role == "tool"
            if not tool_run:
                out.add(fmt.tool_close, "tool", m.index)
    if add_generation_prompt:
        r = fam.reasoning
        extra = "" if r.mode == "none" else (r.on_prompt if on else r.off_prompt)
        if fmt.generation_prompt_after_tool is not None and body and body[-1].role == "tool":
            out.add(fmt.generation_prompt_after_tool, "", None)
        else:
            out.add(fmt.generation_prompt + extra, "", None)
    elif fmt.final_eos:
        out.add(spec.eos_token, "", None)
    return out.segments
