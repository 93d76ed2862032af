"""Generate Ollama's Go chat template from format data, rendering like the structured renderer.

Ollama renders prompts with Go's ``text/template`` over its own request values (``.Messages`` with
``.Role``, ``.Content``, ``.Thinking``, ``.ToolCalls``, ``.ToolCallID``; ``.Tools``; ``.Think`` and
``.IsThinkSet``) and a single helper of its own, ``json`` (Go's ``encoding/json``), plus
``currentDate`` (``YYYY-MM-DD``) in current releases. This module follows
``structured.render_segments`` step for step, like ``jinja_gen`` does for Jinja, from the same format
data and the same tool-call layouts (``dialects.LAYOUTS``), so the prompt Ollama builds is the one the
model was trained on. ``tests/test_ollama_template.py`` renders the battery through a Go-template
evaluator with Ollama's request semantics and compares.

Go templates have no string functions (no trim, split or raise) and Ollama's ``json`` writes Go's
compact JSON, so a few format facts cannot be expressed; each is a `Limit` with its reason, written into
the Modelfile as a comment (`limits`), and the test checks each against the battery. Two differences
are Ollama's own and hold for every family: the bos token is added by Ollama's tokenizer, not written
by the template, and a conversation that ends with an assistant message is continued (the turn is left
open) rather than closed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .dialects import LAYOUTS, CallLayout
from .structured import Spec, trims_newlines

GO_DATE_FORMAT = "%Y-%m-%d"  # what Ollama's `currentDate` writes (it ignores a format argument)


@dataclass(frozen=True)
class Limit:
    """A format fact Ollama's template language cannot express, and what the template does instead."""

    fact: str  # json | trim | newlines | date | tools | number | refusals | ids | call_id | reasoning_split
    reason: str


def lit(text: str) -> str:
    """A Go string literal: JSON's escapes are Go's; non-ASCII kept as is unless it is not printable (Ollama's
    Modelfile parser drops such characters), then escaped."""
    return "".join(
        c if c.isprintable() else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
        for c in json.dumps(text, ensure_ascii=False)
    )


def cat(*parts: str) -> str:
    """A Go expression concatenating ``parts`` (each a Go expression); `print` joins strings as they are."""
    parts = tuple(p for p in parts if p != '""')
    if not parts:
        return '""'
    return parts[0] if len(parts) == 1 else "(print " + " ".join(parts) + ")"


def fill(template: str, values: dict[str, str]) -> str:
    """A Go expression for ``template`` with ``{name}`` placeholders replaced by Go expressions."""
    pieces: list[str] = []
    rest = template
    while rest:
        at = min(((rest.find("{" + k + "}"), k) for k in values if "{" + k + "}" in rest), default=None)
        if at is None:
            pieces.append(lit(rest))
            break
        pos, key = at
        if pos:
            pieces.append(lit(rest[:pos]))
        pieces.append(values[key])
        rest = rest[pos + len(key) + 2 :]
    return cat(*pieces)


def limits(spec: Spec) -> list[Limit]:
    """What of ``spec``'s format the Go template cannot express (empty: everything renders exactly)."""
    fmt, fam = spec.fmt, spec.family
    out: list[Limit] = []
    if fam.tool_dialect is not None and (fmt.tools is not None or fmt.tool is not None):
        out.append(
            Limit(
                "json",
                "tools, tool-call arguments and JSON tool results are written by Ollama's `json` (Go's "
                "encoding/json: compact, `<>&` escaped, Ollama's field order), not with the separators and "
                "indent training used",
            )
        )
    if fmt.trim:
        out.append(
            Limit(
                "trim",
                f"the {', '.join(fmt.trim)} content is not stripped of outer whitespace (Go templates "
                "have no trim)",
            )
        )
    if fam.reasoning.mode != "none":
        out.append(
            Limit(
                "reasoning_split",
                "reasoning inside the content is not split out: Ollama passes it as the message's `thinking`",
            )
        )
        if trims_newlines(spec):
            out.append(Limit("newlines", "reasoning and answers are not stripped of newlines at their ends"))
    if _needs_date(spec) and fmt.fixed_date is None and fmt.date_format != GO_DATE_FORMAT:
        out.append(
            Limit(
                "date",
                f"today's date is written as YYYY-MM-DD (Ollama's currentDate), not {fmt.date_format!r}",
            )
        )
    if fmt.tools is not None and fmt.tools.item_style == "typescript":
        out.append(
            Limit(
                "tools",
                "the tools list is a TypeScript-like declaration Go templates cannot build: the "
                "template writes no tools list and Ollama refuses requests with tools",
            )
        )
    if fmt.tool_content == "json_number":
        out.append(
            Limit("number", "a tool result that reads as a number is written as a JSON string, not a number")
        )
    if fmt.system_support == "reject":
        out.append(
            Limit(
                "refusals",
                "a system message, which the official template refuses, is folded into the first "
                "user message: Go templates cannot raise",
            )
        )
    elif fmt.alternate or fmt.system_support != "native":
        out.append(
            Limit(
                "refusals",
                "conversations the official template refuses (roles out of order, a second system "
                "message) are rendered rather than refused: Go templates cannot raise",
            )
        )
    if fmt.tool is not None and "{tool_call_id}" in fmt.tool:
        out.append(
            Limit(
                "call_id",
                "a tool result names its call through the message's `.ToolCallID` (the request's tool_call_id); "
                "an Ollama whose messages lack that field cannot render it",
            )
        )
    layout = LAYOUTS.get(fam.tool_dialect or "")
    if layout is not None and layout.id_length is not None:
        out.append(Limit("ids", f"tool call ids are not checked for {layout.id_length} characters"))
    return out


def _needs_date(spec: Spec) -> bool:
    return "{date}" in spec.fmt.system_preamble or "{date}" in (spec.family.default_system or "")


def _today(spec: Spec) -> str:
    return lit(spec.fmt.fixed_date) if spec.fmt.fixed_date is not None else "(currentDate)"


def _calls(layout: CallLayout) -> str:
    """Statements that set ``$calls`` to the current message's tool calls, from the dialect's layout."""
    call_id = "$tc.ID"
    id_part = '""'
    if layout.id_part:
        id_part = "$idPart"
    item = fill(
        layout.item,
        {
            "name": "$tc.Function.Name",
            "args": "(json $tc.Function.Arguments)",
            "id": call_id,
            "id_part": id_part,
        },
    )
    out = '{{- $calls = "" }}{{- range $k, $tc := .ToolCalls }}'
    if layout.id_part:
        out += (
            '{{- $idPart := "" }}{{- if $tc.ID }}{{- $idPart = '
            + fill(layout.id_part, {"id": call_id})
            + " }}{{- end }}"
        )
    out += "{{- if $k }}{{- $calls = " + cat("$calls", lit(layout.sep)) + " }}"
    out += "{{- else }}{{- $calls = " + lit(layout.open) + " }}{{- end }}"
    out += "{{- $calls = " + cat("$calls", item) + " }}{{- end }}"
    if layout.close:
        out += "{{- $calls = " + cat("$calls", lit(layout.close)) + " }}"
    return out


def generate_go(spec: Spec) -> str:
    """The Go template (Ollama's TEMPLATE) of the structured renderer for ``spec``."""
    fmt, fam = spec.fmt, spec.family
    r = fam.reasoning
    out: list[str] = []
    w = out.append

    def emit(expr: str) -> None:
        if expr != '""':
            w("{{- " + expr + " }}")

    layout = (
        fmt.tools
        if (fam.tool_dialect is not None and fmt.tools is not None and fmt.tools.item_style == "json")
        else None
    )
    today = _today(spec)
    w(
        '{{- $body := .Messages }}{{- $hasSystem := false }}{{- $system := "" }}{{- $toolsText := "" }}'
        '{{- $c := "" }}{{- $text := "" }}{{- $reasoning := "" }}{{- $calls := "" }}{{- $show := false }}'
        '{{- $lastCall := "" }}{{- $prev := "" }}{{- $on := false }}{{- $firstUser := -1 }}{{- $lastUser := -1 }}'
        "{{- $lastIndex := -1 }}"
    )
    if r.mode == "always":
        w("{{- $on = true }}")
    elif r.mode == "hybrid":
        w(
            "{{- $on = "
            + ("true" if r.default_on else "false")
            + " }}{{- if $.IsThinkSet }}{{- $on = $.Think }}{{- end }}"
        )
    if fmt.prefix:
        emit(lit(fmt.prefix))
    # the system message: the first message if it is one, else the family default
    w(
        '{{- if and .Messages (eq (index .Messages 0).Role "system") }}{{- $hasSystem = true }}'
        "{{- $system = (index .Messages 0).Content }}{{- $body = slice .Messages 1 }}"
    )
    if fmt.skip_empty_system:
        w("{{- if not $system }}{{- $hasSystem = false }}{{- end }}")
    if fam.default_system is not None:
        w(
            "{{- else }}{{- $hasSystem = true }}{{- $system = "
            + fill(fam.default_system, {"date": today})
            + " }}"
        )
    w("{{- end }}")
    if fmt.system_support == "none":
        w("{{- $hasSystem = false }}")
    # the tools text
    if layout is not None:
        declare = "(json $t)"
        item = fill(
            layout.item,
            {
                "tool": declare,
                "name": "$t.Function.Name",
                "description": "$t.Function.Description",
                "parameters": "(json $t.Function.Parameters)",
            },
        )
        w(
            "{{- if $.Tools }}{{- range $k, $t := $.Tools }}{{- if $k }}{{- $toolsText = "
            + cat("$toolsText", lit(layout.joiner))
            + " }}{{- end }}{{- $toolsText = "
            + cat("$toolsText", item)
            + " }}{{- end }}"
        )
        w("{{- $toolsText = " + fill(layout.block, {"tools": "$toolsText"}) + " }}{{- end }}")
    # the system turn
    preamble = fill(fmt.system_preamble, {"date": today}) if fmt.system_preamble else '""'
    prefix = lit(layout.system_prefix) if layout is not None else '""'
    suffix = lit(layout.system_suffix) if layout is not None else '""'
    if fmt.system_support == "native" and fmt.developer is not None:
        if layout is not None:
            w("{{- if $.Tools }}")
            emit(fill(fmt.system or "{content}", {"content": cat(prefix, preamble, suffix)}))
            w("{{- else }}")
        emit(fill(fmt.system or "{content}", {"content": preamble}))
        if layout is not None:
            w("{{- end }}")
        w(
            '{{- $text = "" }}{{- if $hasSystem }}{{- $text = '
            + fill(fmt.developer_instructions, {"content": "$system"})
            + " }}{{- end }}"
        )
        if layout is not None and layout.placement == "system":
            w(
                "{{- if $.Tools }}{{- if $text }}{{- $text = "
                + cat("$text", lit(layout.separator))
                + " }}{{- end }}"
                "{{- $text = " + cat("$text", "$toolsText") + " }}{{- end }}"
            )
        w("{{- if $text }}")
        emit(fill(fmt.developer, {"content": "$text"}))
        w("{{- end }}")
    elif fmt.system_support == "native":
        with_tools = "$.Tools" if layout is not None and layout.placement == "system" else "false"
        w("{{- if or $hasSystem " + with_tools + (" true" if fmt.system_always else "") + " }}")
        w("{{- $text = $system }}")
        if layout is not None and layout.placement == "system":
            w(
                "{{- if $.Tools }}{{- if $hasSystem }}{{- $text = "
                + cat("$text", lit(layout.separator), "$toolsText")
                + " }}{{- else }}{{- $text = $toolsText }}{{- end }}{{- end }}"
            )
        if layout is not None:
            w(
                "{{- if $.Tools }}{{- $text = "
                + cat(prefix, preamble, "$text", suffix)
                + " }}{{- else }}{{- $text = "
                + cat(preamble, "$text")
                + " }}{{- end }}"
            )
        else:
            w("{{- $text = " + cat(preamble, "$text") + " }}")
        emit(fill(fmt.system or "{content}", {"content": "$text"}))
        w("{{- end }}")
    # user positions, and the last position (no user message: no turn is "after the last user")
    w(
        '{{- range $i, $m := $body }}{{- if eq $m.Role "user" }}{{- if lt $firstUser 0 }}{{- $firstUser = $i }}{{- end }}'
        "{{- $lastUser = $i }}{{- end }}{{- $lastIndex = $i }}{{- end }}"
    )
    w("{{- $afterUser := $lastUser }}{{- if lt $lastUser 0 }}{{- $afterUser = $lastIndex }}{{- end }}")
    # the conversation
    w("{{- range $i, $m := $body }}{{- $rest := slice $body $i }}{{- $last := eq (len $rest) 1 }}")
    w('{{- if eq .Role "user" }}{{- $c = .Content }}')
    if layout is not None and layout.placement == "first_user":
        w(
            "{{- if and $.Tools (eq $i $firstUser) }}{{- $c = "
            + cat("$toolsText", lit(layout.separator), "$c")
            + " }}{{- end }}"
        )
    if fmt.system_support in (
        "fold_first_user",
        "fold_last_user",
        "reject",
    ):  # reject: folded (no raise in Go)
        target = "$lastUser" if fmt.system_support == "fold_last_user" else "$firstUser"
        w(
            "{{- if and $hasSystem (eq $i "
            + target
            + ") }}{{- $c = "
            + fill(fmt.fold, {"system": "$system", "content": "$c"})
            + " }}{{- end }}"
        )
    if layout is not None and layout.placement == "before_last_user":
        w("{{- if and $.Tools (eq $i $lastUser) }}")
        emit("$toolsText")
        w("{{- end }}")
    emit(fill(fmt.user, {"content": "$c"}))
    w('{{- else if eq .Role "system" }}')
    if fmt.system_support == "native":
        emit(fill(fmt.system or "{content}", {"content": ".Content"}))
    w('{{- else if eq .Role "assistant" }}')
    _assistant(spec, w, emit)
    w('{{- else if eq .Role "tool" }}')
    if fmt.tool is not None:
        w('{{- if ne $prev "tool" }}')
        emit(lit(fmt.tool_open))
        if fmt.tool_joiner:
            w("{{- else }}")
            emit(lit(fmt.tool_joiner))
        w("{{- end }}")
        content = "(json .Content)" if fmt.tool_content in ("json", "json_number") else ".Content"
        emit(fill(fmt.tool, {"content": content, "tool_call_id": ".ToolCallID", "tool_name": "$lastCall"}))
        if fmt.tool_close:
            w('{{- if or $last (ne (index $rest 1).Role "tool") }}')
            emit(lit(fmt.tool_close))
            w("{{- end }}")
    w("{{- end }}{{- $prev = .Role }}{{- end }}")
    # the generation prompt: Ollama continues a conversation that ends with an assistant message
    w('{{- if ne $prev "assistant" }}')
    if fmt.generation_prompt_after_tool is not None:
        w('{{- if eq $prev "tool" }}')
        emit(lit(fmt.generation_prompt_after_tool))
        w("{{- else }}")
    if r.mode == "none" or r.on_prompt == r.off_prompt:
        emit(lit(fmt.generation_prompt + (r.on_prompt if r.mode != "none" else "")))
    else:
        emit(lit(fmt.generation_prompt))
        w("{{- if $on }}")
        emit(lit(r.on_prompt))
        w("{{- else }}")
        emit(lit(r.off_prompt))
        w("{{- end }}")
    if fmt.generation_prompt_after_tool is not None:
        w("{{- end }}")
    w("{{- end }}")
    return _tidy("\n".join(out))


_NOOPS = (
    re.compile(r"\{\{- (\$\w+) = \1 \}\}"),  # `$x = $x`: a slot with no text of its own around the variable
    re.compile(r"\{\{- if [^{}]*? \}\}\{\{- end \}\}"),  # an empty branch
    re.compile(r"\{\{- else \}\}(?=\{\{- end \}\})"),  # an empty else
)


def _tidy(text: str) -> str:
    """The template without the no-op statements the generic steps leave (same output, easier to read)."""
    while True:
        tidied = text
        for pattern in _NOOPS:
            tidied = pattern.sub("", tidied)
        if tidied == text:
            return text
        text = tidied


def _assistant(spec: Spec, w, emit) -> None:  # type: ignore[no-untyped-def]
    """The assistant branch: reasoning block, tool calls, the slot (left open when it is the last message)."""
    fmt, r = spec.fmt, spec.family.reasoning
    w("{{- $c = .Content }}{{- $text = .Content }}{{- $reasoning = .Thinking }}{{- $show = false }}")
    if r.mode != "none":
        if r.history == "last_only":
            cond = "$last"
        elif r.history == "strip_before_last_user":
            cond = "(gt $i $afterUser)"
        elif r.history == "keep":
            cond = "true"
        else:
            cond = "false"
        has = "(or $reasoning $last)" if r.render_empty == "last" else "$reasoning"
        if cond != "false":
            w("{{- if and " + cond + " " + has + " }}{{- $show = true }}{{- end }}")
        block = fill(
            r.block, {"open": lit(r.open or ""), "close": lit(r.close or ""), "reasoning": "$reasoning"}
        )
        w("{{- if $show }}{{- $c = " + cat(block, lit(fmt.content_prefix), "$c") + " }}")
        w("{{- else }}{{- $c = " + cat(lit(fmt.content_prefix), "$c") + " }}{{- end }}")
    elif fmt.content_prefix:
        w("{{- $c = " + cat(lit(fmt.content_prefix), "$c") + " }}")
    dialect = spec.family.tool_dialect
    if dialect is not None:
        layout = fmt.tool_calls
        w("{{- if .ToolCalls }}" + _calls(LAYOUTS[dialect]))
        if layout.content == "drop":
            w("{{- $c = $calls }}")
        elif layout.wrap is not None:
            if layout.wrap_reasoning:
                w("{{- if and (not $text) $reasoning }}{{- $text = $reasoning }}{{- end }}")
            if layout.wrap_until_answer:
                w(
                    '{{- range $k, $fm := $rest }}{{- if and $k (eq $fm.Role "assistant") (not $fm.ToolCalls) }}'
                    '{{- $text = "" }}{{- end }}{{- end }}'
                )
            w(
                "{{- $c = $calls }}{{- if $text }}{{- $c = "
                + cat(fill(layout.wrap, {"content": "$text"}), "$calls")
                + " }}{{- end }}"
            )
        else:
            w(
                "{{- if $text }}{{- $c = "
                + cat("$c", lit(layout.separator))
                + " }}{{- end }}{{- $c = "
                + cat("$c", "$calls")
                + " }}"
            )
        w("{{- end }}")
    w(
        '{{- $lastCall = "" }}{{- if .ToolCalls }}{{- $lastCall = (index .ToolCalls 0).Function.Name }}{{- end }}'
    )
    slots = []
    if fmt.assistant_after_tool is not None:
        slots.append(('eq $prev "tool"', fmt.assistant_after_tool))
    if fmt.tool_calls.slot is not None:
        slots.append((".ToolCalls", fmt.tool_calls.slot))
    for k, (cond, slot) in enumerate(slots):
        w("{{- " + ("if " if k == 0 else "else if ") + cond + " }}")
        _slot(spec, slot, emit, w)
    if slots:
        w("{{- else }}")
    _slot(spec, fmt.assistant, emit, w)
    if slots:
        w("{{- end }}")


def _slot(spec: Spec, slot: str, emit, w) -> None:  # type: ignore[no-untyped-def]
    before, after = slot.split("{content}", 1)
    emit(cat(lit(before), "$c"))
    if after:
        w("{{- if not $last }}")
        emit(lit(after))
        w("{{- end }}")
