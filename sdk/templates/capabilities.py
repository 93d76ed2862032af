"""What a chat template can do, found by rendering probe conversations (never typed by hand).

Each capability is a question put to the template with marker strings: does a system message's
marker reach the text, does a tool's name, do both of two parallel calls... The answers are stored in
the family file (``template.capabilities``) and a test re-probes and compares, so a format edit that
silently drops a capability fails loudly. Works on the structured renderer and on official Jinja.
"""

from __future__ import annotations

import json
from typing import Any

from dayzero.errors import DayzeroError
from dayzero.registry.schema import Capabilities

from .chat_template import ChatTemplate

_SYS, _USER, _ANSWER, _REASON = "PROBE-SYSTEM-7f3", "PROBE-USER-2c9", "PROBE-ANSWER-5e1", "PROBE-REASON-8a4"
_TOOL = {"type": "function", "function": {"name": "probe_tool_fn", "description": "probe",
                                          "parameters": {"type": "object", "properties": {"probe_key": {"type": "string"}}}}}


def _call(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _render(tpl: ChatTemplate, messages: list[dict[str, Any]], **kwargs: Any) -> str | None:
    try:
        return tpl.render(messages, **kwargs)
    except DayzeroError:
        return None


def _tool_calls_render(tpl: ChatTemplate, calls: list[dict[str, Any]]) -> str | None:
    """An assistant turn with ``calls``: with a tools list and empty content, else as OpenAI's API sends it
    (``content: None``, no tools list; DeepSeek's templates render calls only so). The first render that
    shows the first call's name, else the first render."""
    renders = []
    for content, tools in (("", [_TOOL]), (None, None)):
        conv = [{"role": "user", "content": _USER}, {"role": "assistant", "content": content, "tool_calls": calls}]
        renders.append(_render(tpl, conv, tools=tools))
    name = calls[0]["function"]["name"]
    return next((r for r in renders if r is not None and name in r), renders[0])


def _calls_render(tpl: ChatTemplate, calls: list[dict[str, Any]]) -> str | None:
    """``_tool_calls_render`` with dict arguments, else with the same arguments as JSON strings."""

    text = _tool_calls_render(tpl, calls)
    if text is not None and calls[0]["function"]["name"] in text:
        return text
    as_str = [_call(c["function"]["name"], json.dumps(c["function"]["arguments"]), c["id"]) for c in calls]
    return _tool_calls_render(tpl, as_str)


def _argument_forms(tpl: ChatTemplate) -> str:
    obj = '"probe_key": "probe_value"'
    as_dict = _tool_calls_render(tpl, [_call("probe_call_a", {"probe_key": "probe_value"}, "probe0001")])
    as_str = _tool_calls_render(tpl, [_call("probe_call_a", '{"probe_key": "probe_value"}', "probe0001")])
    forms = [f for f, text in (("object", as_dict), ("string", as_str)) if text is not None and obj in text]
    return "both" if len(forms) == 2 else (forms[0] if forms else "none")


def _prefix_preserving(tpl: ChatTemplate) -> bool:
    """Each answer's text, through its end-of-turn, is unchanged when more turns follow.

    With a system message where the template takes one: formats that fold it into the *last* user turn
    (Mistral) move it as the conversation grows, which is exactly what this property is about.
    """
    conv = [
        {"role": "system", "content": _SYS},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1", "reasoning_content": "r1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2", "reasoning_content": "r2"},
        {"role": "user", "content": "q3"},
    ]
    full = _render(tpl, conv)
    if full is None:  # no system role: probe without one
        conv = conv[1:]
        full = _render(tpl, conv)
    if full is None:
        return False
    eot = tpl.end_of_turn
    for stop in [i + 1 for i, m in enumerate(conv) if m["role"] == "assistant"]:
        part = _render(tpl, conv[:stop])
        if part is None:
            return False
        if eot and eot in part:
            part = part[: part.rindex(eot) + len(eot)]
        if not full.startswith(part):
            return False
    return True


def _end_of_turn_trained(tpl: ChatTemplate) -> bool:
    conv = [{"role": "user", "content": _USER}, {"role": "assistant", "content": _ANSWER},
            {"role": "user", "content": _USER}, {"role": "assistant", "content": _ANSWER}]
    try:
        segments = tpl.segments(conv)
    except DayzeroError:
        return False
    # some answer ends with a trained end-of-turn: GLM-4's first (its end-of-turn opens the next question),
    # harmony's last (<|return|>), every answer elsewhere
    ends = [e for e in (tpl.end_of_turn, tpl.spec.fmt.final_end_of_turn if tpl.spec else None) if e]
    answers = {s.message_index for s in segments if s.trained}
    for index in answers:
        trained = "".join(s.text for s in segments if s.trained and s.message_index == index)
        if any(trained.endswith(e) for e in ends):
            return True
    return False


def _reasoning(tpl: ChatTemplate) -> str:
    if tpl.spec is not None:
        mode = tpl.reasoning.mode
        return str(getattr(mode, "value", mode))
    r = tpl.reasoning
    prompt = [{"role": "user", "content": _USER}]
    if r.switch:
        on, off = _render(tpl, prompt, add_generation_prompt=True, thinking="on"), _render(
            tpl, prompt, add_generation_prompt=True, thinking="off")
        if on is not None and off is not None and on != off:
            return "hybrid"
    answered = [*prompt, {"role": "assistant", "content": _ANSWER, "reasoning_content": _REASON}]
    text = _render(tpl, answered) or ""
    gp = _render(tpl, prompt, add_generation_prompt=True) or ""
    if _REASON in text or (r.open and gp.rstrip().endswith(r.open)):
        return "always"
    return "none"


def probe(tpl: ChatTemplate) -> Capabilities:
    """Probe a template; the answers as a ``Capabilities`` record."""
    system = _render(tpl, [{"role": "system", "content": _SYS}, {"role": "user", "content": _USER}])
    tools = _render(tpl, [{"role": "user", "content": _USER}], tools=[_TOOL], add_generation_prompt=True)
    one = _calls_render(tpl, [_call("probe_call_a", {"probe_key": "v"}, "probe0001")])
    two = _calls_render(tpl, [_call("probe_call_a", {"probe_key": "v"}, "probe0001"),
                              _call("probe_call_b", {"probe_key": "w"}, "probe0002")])
    return Capabilities(
        system_role=system is not None and _SYS in system,
        tools=tools is not None and "probe_tool_fn" in tools,
        tool_calls=one is not None and "probe_call_a" in one,
        parallel_tool_calls=two is not None and "probe_call_a" in two and "probe_call_b" in two,
        tool_call_arguments=_argument_forms(tpl),  # type: ignore[arg-type]
        prefix_preserving=_prefix_preserving(tpl),
        end_of_turn_trained=_end_of_turn_trained(tpl),
        reasoning=_reasoning(tpl),  # type: ignore[arg-type]
    )


def capabilities_line(caps: Capabilities) -> str:
    """The one-line YAML form stored in a family file's ``template`` block."""
    data = caps.model_dump(mode="json")
    body = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in data.items())
    return f"  capabilities: {{{body}}}   # probed by `dayzero template caps`; do not edit by hand\n"


def record_capabilities(path: Any, caps: Capabilities) -> None:
    """Write ``caps`` into the ``template:`` block of a family file, replacing an earlier record.

    A targeted text edit (comments and layout of the file are kept), written atomically.
    """
    from pathlib import Path

    from dayzero.atomic import atomic_write_text
    from dayzero.errors import RegistryError, Where

    file = Path(path)
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "template:")
    except StopIteration:
        raise RegistryError("no `template:` block", where=Where(file=str(file))) from None
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # keep the blank lines after the block
        end -= 1
    block = [line for line in lines[start + 1:end] if not line.startswith("  capabilities:")]
    new = lines[: start + 1] + block + [capabilities_line(caps)] + lines[end:]
    atomic_write_text(file, "".join(new))
