"""Tool-call dialects round-trip, and reasoning splits; expected strings are the official templates' forms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dayzero.errors import NotSupportedError, TemplateError
from dayzero.sdk.templates import ChatTemplate, dialect_names, get_dialect, split_reasoning
from dayzero.sdk.templates.battery import TOOLS

CALLS = [
    {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": 2}}},
    {"id": "call00002", "type": "function", "function": {"name": "get_time", "arguments": {"city": "東京"}}},
]


def _normal(calls: list[dict[str, Any]], with_id: bool) -> list[tuple[Any, ...]]:
    out = []
    for c in calls:
        args = c["function"]["arguments"]
        args = json.loads(args) if isinstance(args, str) else args
        out.append((c["function"]["name"], args, c.get("id") if with_id else None))
    return out


@pytest.mark.parametrize("name", dialect_names())
def test_format_then_extract_gives_the_calls_back(name: str) -> None:
    dialect = get_dialect(name)
    with_id = name in ("mistral", "mistral_spm", "mistral_v11")
    for calls in (CALLS[:1], CALLS):
        content, extracted = dialect.extract(dialect.format(calls))
        assert content == ""
        assert _normal(extracted, with_id) == _normal(calls, with_id)
        assert all(isinstance(c["function"]["arguments"], str) for c in extracted)  # OpenAI: a JSON string


def test_known_forms() -> None:
    one = CALLS[:1]
    assert get_dialect("hermes").format(one) == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "n": 2}}\n</tool_call>')
    assert get_dialect("llama3_json").format(one) == '{"name": "get_weather", "parameters": {"city": "Paris", "n": 2}}'
    assert get_dialect("mistral").format(one) == (
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "n": 2}, "id": "call00001"}]')
    assert get_dialect("mistral_v11").format(one) == '[TOOL_CALLS]get_weather[CALL_ID]call00001[ARGS]{"city": "Paris", "n": 2}'


def test_extract_keeps_text_without_calls() -> None:
    for name in dialect_names():
        assert get_dialect(name).extract("Just an answer.") == ("Just an answer.", [])
    assert get_dialect("hermes").extract('Let me check.\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>')[0] == (
        "Let me check.")


@pytest.mark.parametrize("family", ["qwen2", "qwen3", "llama3", "mistral", "mistral-small"])
def test_rendered_assistant_call_parses_back(family: str) -> None:
    tpl = ChatTemplate.for_family(family)
    calls = CALLS[:1] if family == "llama3" else CALLS
    conv = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "tool_calls": calls}]
    trained = "".join(s.text for s in tpl.segments(conv, tools=TOOLS) if s.trained)
    completion = trained.removesuffix(tpl.end_of_turn)
    dialect = get_dialect(tpl.family_template.tool_dialect)
    _, content = split_reasoning(completion, tpl)
    got_content, extracted = dialect.extract(content)
    assert got_content == ""
    assert _normal(extracted, False) == _normal(calls, False)


def test_unknown_dialect_is_not_supported() -> None:
    with pytest.raises(NotSupportedError, match="dialect 'smoke-signals'"):
        get_dialect("smoke-signals")


def test_split_reasoning() -> None:
    assert split_reasoning("<think>\nAdd them.\n</think>\n\nIt is 4.", "qwen3") == ("Add them.", "It is 4.")
    # R1-Distill's generation prompt already opened the block: the completion has only the close
    assert split_reasoning("Add them.\n</think>\n\nIt is 4.", "deepseek-r1-distill") == ("Add them.", "It is 4.")
    assert split_reasoning("It is 4.", "qwen3") == (None, "It is 4.")
    assert split_reasoning("<think>x</think>y", "qwen2") == (None, "<think>x</think>y")  # qwen2 does not reason


def test_known_deepseek_forms() -> None:
    """R1: `function` type word and a ```json fence, calls joined by a newline; V3.1: neither, no separator."""
    assert get_dialect("deepseek").format(CALLS) == (
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
        '{"city": "Paris", "n": 2}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n'
        '{"city": "東京"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>')
    assert get_dialect("deepseek_v31").format(CALLS) == (
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Paris", "n": 2}<｜tool▁call▁end｜>'
        '<｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{"city": "東京"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>')


@pytest.mark.parametrize("family", ["deepseek-r1-distill", "deepseek-v3"])
def test_deepseek_calls_read_back_from_the_official_render(family: str, reference_dir) -> None:
    """The official template's own text of a call turn (content None, arguments as JSON strings) parses back."""
    from dayzero import registry
    from dayzero.sdk.templates import render_official
    from dayzero.sdk.templates.parity import load_official

    fam = registry.get(family)
    calls = [{"id": c["id"], "type": "function",
              "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"], ensure_ascii=False)}}
             for c in CALLS]
    conv = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": calls}]
    text = render_official(load_official(fam.template.official or "", reference_dir), conv, bos_token=fam.tokenizer.bos)
    dialect = get_dialect(fam.template.tool_dialect or "")
    answer = text.split("<｜Assistant｜>", 1)[1].removeprefix("</think>")
    assert answer.startswith(dialect.start)
    content, extracted = dialect.extract(answer)
    assert content == "" and _normal(extracted, False) == _normal(CALLS, False)


@pytest.mark.parametrize("name", dialect_names())
def test_dialect_start_marker_opens_every_call(name: str) -> None:
    """`start` (what a server streams up to) is where the formatted calls begin; text before it is content."""
    dialect = get_dialect(name)
    text = dialect.format(CALLS[:1])
    if not dialect.start:  # no marker (dialects.py says why): the server holds the whole answer
        assert name in ("glm4", "harmony", "llama3_json")
        return
    assert text.startswith(dialect.start)
    content, extracted = dialect.extract("Let me check. " + text)
    assert content == "Let me check." and _normal(extracted, False) == _normal(CALLS[:1], False)


def test_server_streams_until_the_dialect_start() -> None:
    from dayzero import registry
    from dayzero.sdk.serve.formatting import ChatFormatting

    assert ChatFormatting.for_family(registry.get("qwen2")).tool_marker == "<tool_call>"
    assert ChatFormatting.for_family(registry.get("deepseek-v3")).tool_marker == "<｜tool▁calls▁begin｜>"
    assert ChatFormatting.for_family(registry.get("glm4")).tool_marker is None  # held whole
    assert ChatFormatting.for_family(registry.get("gpt-oss")).tool_marker is None


TOOL_FAMILIES = sorted(f.id for f in __import__("dayzero").registry.families() if f.template.tool_dialect)


@pytest.mark.parametrize("text", ["", "Let me check."])
@pytest.mark.parametrize("family", TOOL_FAMILIES)
def test_streamed_call_parses_like_the_whole_text(family: str, text: str) -> None:
    """The server's own ChatOutput, fed the family's rendered call token by token: the calls come back, and
    streaming (text sent up to the dialect's `start`, the rest held and parsed) gives what the whole text gives."""
    from dayzero import registry
    from dayzero.sdk.serve.chat_output import ChatOutput
    from dayzero.sdk.serve.formatting import ChatFormatting
    from dayzero.sdk.tiny import tiny_tokenizer

    tpl = ChatTemplate.for_family(family)
    calls = CALLS[:1] if tpl.spec and tpl.spec.fmt.tool_calls.single else CALLS
    for c in calls:
        c.setdefault("id", "call00001")
    conv = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": text, "tool_calls": calls}]
    tools = TOOLS if tpl.spec and tpl.spec.fmt.tools else None
    try:
        segs = tpl.segments(conv, tools=tools)
    except TemplateError:  # formats that refuse text next to a call
        assert text
        return
    completion = "".join(s.text for s in segs if s.trained and s.message_index == 1)
    fam = registry.get(family)
    fmt = ChatFormatting.for_family(fam)
    tok = tiny_tokenizer(fam)
    vocab = tok.get_vocab()
    stop_ids = [vocab[t] for t in dict.fromkeys([*fam.tokenizer.end_of_turn, *fam.serving.generation_eos]) if t in vocab]
    end = next((s for s in fmt.stop_strings if completion.endswith(s)), "")
    body = completion.removesuffix(end) if end else completion
    ids = tok.encode(body, add_special_tokens=False) + ([vocab[end]] if end in vocab else [])  # the stop id, undecoded

    def output() -> ChatOutput:
        return ChatOutput(tok, fmt, stop=[], skip_ids=stop_ids, parse_tools=True, opens_reasoning=False)

    whole = output()
    for tid in ids:
        whole.push_token(tid)
    result = whole.finish()
    got = [{"function": {"name": c.function.name, "arguments": c.function.arguments}} for c in result.tool_calls]
    assert _normal(got, False) == _normal(calls, False), completion
    streamed, sent = output(), ""
    for tid in ids:
        sent += streamed.push_token_streaming(tid)[1]
    _, rest, streamed_calls = streamed.finish_streaming()
    assert (sent + rest).strip() == (result.content or "").strip()
    assert [c.function for c in streamed_calls] == [c.function for c in result.tool_calls]
