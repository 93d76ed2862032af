"""The Ollama Modelfile's Go template renders the battery as dayzero's training renderer does.

Every family's template is executed by a Go text/template evaluator (`go_template.py`) on the values
Ollama builds from a chat request (Ollama's `template.Execute`: the Modelfile's SYSTEM inserted when the
request has none, consecutive same-role messages collated, every system message joined into `.System`,
messages as `api.Message` structs, `.Tools` as `api.Tool` structs, `.Think` / `.IsThinkSet`). The expected
text is dayzero's own render of the same conversation for generation, minus the bos text Ollama's
tokenizer adds. JSON is the one place the two cannot agree byte for byte (Ollama's `json` is Go's
encoding/json): the expected render writes JSON the way Go does, and the Modelfile says so (limit `json`).
Conversations that hit another limit the Modelfile declares are counted, and each declared limit must be
one the battery (or the format) really hits.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from go_template import Stringer, Struct, go_json, render

from dayzero import registry
from dayzero.registry.view import view_of
from dayzero.sdk.modelfile import modelfile, ollama_spec
from dayzero.sdk.templates import ChatTemplate
from dayzero.sdk.templates import dialects as dialects_mod
from dayzero.sdk.templates import structured as structured_mod
from dayzero.sdk.templates.battery import Case, cases
from dayzero.sdk.templates.ollama_gen import generate_go, limits
from dayzero.sdk.templates.parity import applicable
from dayzero.sdk.templates.types import served_messages

FAMILIES = [f.id for f in registry.families()]


def _ollama_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool as Ollama's api.Tool marshals it: type, items, function{name, description, parameters{type, $defs,
    items, required, properties{anyOf, type, items, description, enum}}}, empty optional fields left out."""
    fn = tool.get("function", tool)
    params = fn.get("parameters", {})
    props = {}
    for name, prop in params.get("properties", {}).items():
        props[name] = {k: prop[k] for k in ("anyOf", "type", "items", "description", "enum") if prop.get(k)}
    out_params: dict[str, Any] = {"type": params.get("type", "")}
    for key in ("$defs", "items", "required"):
        if params.get(key):
            out_params[key] = params[key]
    out_params["properties"] = props
    function: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        function["description"] = fn["description"]
    function["parameters"] = out_params
    return {"type": tool.get("type", "function"), "function": function}


def _tool_struct(tool: dict[str, Any]) -> Struct:
    fn = tool["function"]
    params = Struct(
        {
            "Type": fn["parameters"]["type"],
            "Required": fn["parameters"].get("required"),
            "Properties": fn["parameters"]["properties"],
        },
        fn["parameters"],
    )
    function = Struct(
        {"Name": fn["name"], "Description": fn.get("description", ""), "Parameters": params}, fn
    )
    return Struct({"Type": tool["type"], "Items": None, "Function": function}, tool)


def _message(m: dict[str, Any], names: dict[str, str]) -> Struct:
    calls = []
    for k, c in enumerate(m.get("tool_calls") or []):
        fn = c["function"]
        names[c.get("id") or ""] = fn["name"]
        calls.append(
            Struct(
                {
                    "ID": c.get("id") or "",
                    "Function": Struct(
                        {"Index": k, "Name": fn["name"], "Arguments": Stringer(fn["arguments"])}
                    ),
                }
            )
        )
    call_id = m.get("tool_call_id") or ""
    return Struct(
        {
            "Role": m["role"],
            "Content": m.get("content") or "",
            "Thinking": m.get("reasoning_content") or "",
            "Images": [],
            "ToolCalls": calls,
            "ToolCallID": call_id,
            "ToolName": names.get(call_id, "") if m["role"] == "tool" else "",
        }
    )


def ollama_values(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    thinking: str | None,
    system: str | None,
) -> dict[str, Any]:
    """What Ollama's chat handler and template.Execute hand the template for this request."""
    if system and not (messages and messages[0]["role"] == "system"):
        messages = [{"role": "system", "content": system}, *messages]
    names: dict[str, str] = {}
    structs = [_message(m, names) for m in messages]
    collated: list[Struct] = []
    for m in structs:  # template.collate: consecutive messages of one role merge, except tool results
        if collated and collated[-1]["Role"] == m["Role"] and m["Role"] != "tool":
            collated[-1]["Content"] += "\n\n" + m["Content"]
        else:
            collated.append(m)
    return {
        "System": "\n\n".join(m["Content"] for m in structs if m["Role"] == "system"),
        "Messages": collated,
        "Tools": [_tool_struct(t) for t in tools or []],
        "Response": "",
        "Think": thinking == "on",
        "IsThinkSet": thinking in ("on", "off"),
        "Query": "",
        "Document": "",
        "Instruction": "",
    }


def _go_dumps(value: Any, indent: int | None = None) -> str:
    return go_json(value)


@pytest.fixture
def go_json_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    """dayzero's renderer writing JSON as Ollama's `json` does (the limit every tool-using Modelfile declares)."""
    monkeypatch.setattr(structured_mod, "dumps", _go_dumps)
    monkeypatch.setattr(dialects_mod, "dumps", _go_dumps)


def _prompts(case: Case) -> list[list[dict[str, Any]]]:
    """Every request the case makes: each prefix that ends with a user message or tool results."""
    msgs = case.messages
    return [
        msgs[:k]
        for k in range(1, len(msgs) + 1)
        if msgs[k - 1]["role"] in ("user", "tool") and (k == len(msgs) or msgs[k]["role"] != "tool")
    ]


def _limited(
    facts: set[str], fmt: Any, case: Case, prompt: list[dict[str, Any]], expected: str
) -> str | None:
    """The declared limit this request hits, if any."""
    if "tools" in facts and case.tools:
        return "tools"
    if "date" in facts and datetime.now().strftime(fmt.date_format) in expected:  # not Ollama's YYYY-MM-DD
        return "date"
    for m in prompt:
        text = m.get("content") or ""
        if "trim" in facts and m["role"] in fmt.trim and text != text.strip():
            return "trim"
        if (
            "newlines" in facts
            and m["role"] == "assistant"
            and (
                text != text.strip("\n")
                or (m.get("reasoning_content") or "") != (m.get("reasoning_content") or "").strip("\n")
            )
        ):
            return "newlines"
    return None


def _ollama_date(
    facts: set[str], fmt: Any, default: str | None, prompt: list[dict[str, Any]], text: str, today: datetime
) -> str:
    """``text`` with today's date as Ollama's ``currentDate`` writes it (YYYY-MM-DD), where the format's own
    turns carry the date (mllama, smollm3 date every system turn): the declared `date` limit is then exactly
    the date's spelling and everything else is still compared. A dated *default* system prompt is left as it
    is (the Modelfile writes no SYSTEM for it, so such requests stay skipped under `date`)."""
    if "date" not in facts:
        return text
    if default and "{date}" in default and not any(m["role"] == "system" for m in prompt):
        return text
    return text.replace(today.strftime(fmt.date_format), today.strftime("%Y-%m-%d"))


def _check_family(family_id: str) -> tuple[int, dict[str, int]]:
    reg = registry.default()
    view = view_of(reg, reg.get(family_id))
    spec = ollama_spec(view)
    today = datetime.now()
    tpl = ChatTemplate.for_view(view, date=today)
    go = generate_go(spec)
    facts = {limit.fact for limit in limits(spec)}
    default = view.family.template.default_system
    system = default if default and "{date}" not in default else None
    compared, hit = 0, {}
    for case in cases():
        if not applicable(tpl, case) or case.thinking == "keep":
            continue
        for prompt in _prompts(case):
            served = served_messages(prompt)
            try:
                expected = tpl.render(
                    served, tools=case.tools, add_generation_prompt=True, thinking=case.thinking
                )
            except Exception:  # the format refuses the conversation (Ollama cannot refuse: limit `refusals`)
                continue
            expected = _ollama_date(facts, spec.fmt, default, prompt, expected, today)
            reason = _limited(facts, spec.fmt, case, prompt, expected)
            if reason is not None:
                hit[reason] = hit.get(reason, 0) + 1
                continue
            if spec.fmt.bos:
                expected = expected.removeprefix(spec.bos_token)
            got = render(go, ollama_values(served, case.tools, case.thinking, system))
            assert got == expected, f"{family_id}/{case.id} (first {len(prompt)} messages)"
            compared += 1
    return compared, hit


@pytest.mark.parametrize("family_id", FAMILIES)
def test_go_template_renders_like_training(family_id: str, go_json_renderer: None) -> None:
    compared, hit = _check_family(family_id)
    # at least 4: a family whose default system prompt carries a date in a format Ollama cannot write (granite3)
    # compares only the requests that bring their own system message
    assert compared >= 4, f"only {compared} battery requests compared for {family_id}"
    for fact in hit:  # a request skipped for a limit the Modelfile does not declare would be a silent gap
        assert fact in {
            limit.fact for limit in limits(ollama_spec(view_of(registry.default(), registry.get(family_id))))
        }


@pytest.mark.parametrize("family_id", FAMILIES)
def test_prefill_leaves_the_last_answer_open(family_id: str, go_json_renderer: None) -> None:
    """A request that ends with an assistant message is continued: the text is the training render up to
    the answer's end of turn (Ollama's convention for a prefilled answer)."""
    reg = registry.default()
    view = view_of(reg, reg.get(family_id))
    spec, fmt = ollama_spec(view), view.format
    tpl = ChatTemplate.for_view(view, date=datetime.now())
    go = generate_go(spec)
    facts = {limit.fact for limit in limits(spec)}
    default = view.family.template.default_system
    system = default if default and "{date}" not in default else None
    tails = set()
    for slot in (fmt.assistant, fmt.tool_calls.slot, fmt.assistant_after_tool):
        if slot:
            after = slot.split("{content}", 1)[1]
            tails |= {after, after.replace(fmt.end_of_turn, fmt.final_end_of_turn or fmt.end_of_turn, 1)}
            if fmt.final_tail is not None and fmt.end_of_turn in after:  # Falcon3: no newline after the last answer
                tails.add(after[: after.index(fmt.end_of_turn) + len(fmt.end_of_turn)] + fmt.final_tail)
    tails |= {t + spec.eos_token for t in tails} if fmt.final_eos else set()
    checked = 0
    for case in cases():
        if case.messages[-1]["role"] != "assistant" or case.tools or not applicable(tpl, case):
            continue
        if case.thinking is not None or any(
            m.get("reasoning_content") or m.get("tool_calls") for m in case.messages
        ):
            continue
        if case.id == "whitespace":
            continue
        try:
            full = tpl.render(case.messages)
        except Exception:
            continue
        full = _ollama_date(facts, fmt, default, case.messages, full, datetime.now())
        if (
            "date" in facts and datetime.now().strftime(fmt.date_format) in full
        ):  # declared: Ollama's date differs
            continue
        got = render(go, ollama_values(case.messages, None, None, system))
        full = full.removeprefix(spec.bos_token) if fmt.bos else full
        assert full.startswith(got) and full[len(got) :] in tails, (
            f"{family_id}/{case.id}: {full[len(got) :]!r}"
        )
        checked += 1
    assert checked >= 2


def test_modelfile_parses_back_to_the_template() -> None:
    """Ollama's Modelfile parser takes a triple-quoted value as it is: the TEMPLATE value is the Go template."""
    reg = registry.default()
    for family_id in FAMILIES:
        view = view_of(reg, reg.get(family_id))
        text = modelfile(view, view.stop_strings)
        got = re.search(r'^TEMPLATE """(.*?)"""$', text, re.DOTALL | re.MULTILINE)
        assert got is not None and got.group(1) == generate_go(ollama_spec(view)), family_id
        assert "{tool_call_id}" not in text and "{tool_name}" not in text and "{content}" not in text, (
            family_id
        )
        for limit in limits(ollama_spec(view)):
            assert f"# Ollama cannot express ({limit.fact})" in text


def test_qwen_tool_results_are_wrapped_in_a_user_turn(go_json_renderer: None) -> None:
    """The bug this replaces: Qwen's tool results must sit inside `<|im_start|>user ... <|im_end|>` (hand-written)."""
    reg = registry.default()
    view = view_of(reg, reg.get("qwen2"))
    go = generate_go(ollama_spec(view))
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "5C"},
    ]
    got = render(go, ollama_values(messages, None, None, None))
    assert got.endswith(
        '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Oslo"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n5C\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )


def test_mistral_and_gemma2_keep_the_system_message() -> None:
    reg = registry.default()
    for family_id, expected in (
        ("mistral", "[INST] Be brief.\n\nHi[/INST]"),
        ("gemma2", "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"),
    ):
        go = generate_go(ollama_spec(view_of(reg, reg.get(family_id))))
        got = render(
            go,
            ollama_values(
                [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                None,
                None,
                None,
            ),
        )
        assert expected in got, (family_id, got)


def test_gpt_oss_refuses_tools_through_ollama() -> None:
    """Ollama serves tools only to a template that reads `.Tools`; harmony's TypeScript tool list cannot be
    built in Go, so the template does not read it and Ollama refuses a request with tools, as the note says."""
    reg = registry.default()
    spec = ollama_spec(view_of(reg, reg.get("gpt-oss")))
    assert ".Tools" not in generate_go(spec)
    assert "tools" in {limit.fact for limit in limits(spec)}
