"""Parity of three renderers on the battery: structured, generated Jinja, official Jinja.

``check(template, official_source)`` renders every applicable battery case three ways and reports,
per case, whether the strings agree; a case listed in the family's ``template.deviations`` must show
the recorded behaviour instead (the official template raises, or renders differently). Used by
``dayzero template check`` and by the per-family parity tests.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dayzero.errors import DayzeroError, TemplateError, Where

from .battery import Case, cases
from .chat_template import ChatTemplate
from .sandbox import render_official


def load_official(path: str | Path, root: Path | None = None) -> str:
    """An official template's source, from any file a family's ``template.official`` may name: a ``.jinja``
    file, a ``tokenizer_config.json``, ``chat-template-expected.json#<case name>`` (llama.cpp's or
    huggingface.js's inline cases) or ``openvino.genai/tokenizer-configs.json#<hub id>``.

    The formats are read in one place, `conformance.official.read_reference`; this keeps the template
    commands' error type (a TemplateError) and a relative path's root.
    """
    from dayzero.conformance.official import read_reference

    text_path, sep, case_name = str(path).partition("#")
    file = Path(text_path) if root is None or Path(text_path).is_absolute() else root / text_path
    try:
        template = read_reference(Path(f"{file}{sep}{case_name}")).chat_template
    except DayzeroError as exc:
        raise TemplateError(exc.message, where=exc.where or Where(file=str(file)), hint=exc.hint) from None
    if template is None:
        raise TemplateError("no `chat_template` string in this file", where=Where(file=str(file), field="chat_template"))
    return template


@dataclass(frozen=True)
class CaseResult:
    case: str
    status: str  # match | mismatch | deviation | deviation-violated | skipped
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("match", "deviation", "skipped")


def applicable(tpl: ChatTemplate, c: Case) -> bool:
    """Whether the family claims what the case needs (tools, reasoning); one-call formats must raise on parallel calls."""
    spec = tpl.spec
    assert spec is not None
    if "tools" in c.needs and (spec.fmt.tools is None or spec.family.tool_dialect is None):
        return False
    if "tool_calls" in c.needs and (spec.fmt.tool is None or spec.family.tool_dialect is None):
        return False  # calls and results without a tools list: a dialect and a slot for results suffice
    return not ("reasoning" in c.needs and spec.family.reasoning.mode == "none")


def _try(fn: Any) -> tuple[str | None, str | None]:
    try:
        return fn(), None
    except DayzeroError as exc:
        return None, str(exc)


def diff(a: str, b: str, *, left: str = "structured", right: str = "official") -> str:
    """A unified diff of two renders, line by line with visible line ends."""
    lines = difflib.unified_diff(
        [line + "⏎" for line in a.split("\n")], [line + "⏎" for line in b.split("\n")], left, right, lineterm=""
    )
    return "\n".join(lines)


def render_three(tpl: ChatTemplate, official: ChatTemplate, c: Case) -> tuple[tuple[str | None, str | None], ...]:
    """(text, error) from the structured renderer, its generated Jinja and the official template."""
    jinja = tpl.to_jinja()
    kw = {"tools": c.tools, "add_generation_prompt": c.add_generation_prompt}
    a = _try(lambda: tpl.render(c.messages, thinking=c.thinking, **kw))
    extra = {"thinking": c.thinking} if c.thinking else {}
    b = _try(lambda: render_official(jinja, c.messages, bos_token=tpl.bos_token, eos_token=tpl.eos_token,
                                     date=tpl.date, **kw, **extra))
    o = _try(lambda: official.render(c.messages, thinking=c.thinking, **kw))
    return a, b, o


def check(tpl: ChatTemplate, official_source: str) -> list[CaseResult]:
    """Render the battery three ways; one result per case."""
    fam = tpl.family_template
    deviations = {d.case: d for d in (fam.deviations if fam else [])}
    official = ChatTemplate.from_official(official_source, fam, tpl.bos_token, tpl.eos_token,
                                          end_of_turn=tpl.end_of_turn, date=tpl.date)
    results: list[CaseResult] = []
    for c in cases():
        if not applicable(tpl, c):
            results.append(CaseResult(c.id, "skipped", "the family does not claim what this case needs"))
            continue
        (a, ea), (b, eb), (o, eo) = render_three(tpl, official, c)
        if (a, ea) != (b, eb) and not (ea and eb):
            results.append(CaseResult(c.id, "mismatch", "structured vs generated Jinja:\n" + diff(a or ea or "", b or eb or "", right="generated")))
            continue
        dev = deviations.get(c.id)
        if dev is not None:
            shown = (dev.behaviour == "raises" and eo is not None) or (dev.behaviour != "raises" and o is not None and o != a)
            status = "deviation" if shown else "deviation-violated"
            results.append(CaseResult(c.id, status, f"{dev.behaviour}: {dev.note}" + ("" if shown else f" (official: {eo or 'same text'})")))
            continue
        if ea and eo:
            results.append(CaseResult(c.id, "match", "both raise"))
        elif a is not None and a == o:
            results.append(CaseResult(c.id, "match"))
        else:
            results.append(CaseResult(c.id, "mismatch", diff(a or f"ERROR {ea}", o or f"ERROR {eo}")))
    return results


def report(results: list[CaseResult]) -> str:
    """Human-readable parity report."""
    lines = []
    for r in results:
        lines.append(f"{r.status:>18}  {r.case}" + (f"  ({r.detail})" if r.detail and r.status != "mismatch" else ""))
        if r.status == "mismatch":
            lines.append(r.detail)
    bad = sum(not r.ok for r in results)
    lines.append(f"{len(results) - bad}/{len(results)} cases ok")
    return "\n".join(lines)
