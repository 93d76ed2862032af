"""Tool-call layouts are data written once: the Python formatter and the generated Jinja agree on every dialect.

Hand-worked expectations pin two layouts to what the official templates write (Qwen2.5's hermes block,
Mistral's `[TOOL_CALLS][...]` list); the rest are checked Python == Jinja over varied calls. Parity
with the official templates themselves is tests/test_template_parity.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dayzero.sdk.templates.dialects import LAYOUTS, get_dialect
from dayzero.sdk.templates.jinja_gen import call_jinja

CALL_SETS: list[list[dict[str, Any]]] = [
    [{"id": "call0abcd", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
    [
        {"id": "call1abcd", "type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": [2, "é"]}}},
        {"id": "call2abcd", "type": "function", "function": {"name": "noop", "arguments": "{\"x\": 1}"}},
    ],
    [{"id": "call3abcd", "type": "function", "function": {"name": "empty", "arguments": ""}}],
]


def _jinja(layout_name: str, calls: list[dict[str, Any]]) -> str:
    env = ImmutableSandboxedEnvironment()
    env.filters["tojson"] = lambda x: json.dumps(x, ensure_ascii=False)  # transformers' tojson: a plain str

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env.globals["raise_exception"] = raise_exception
    source = ("{%- set ns = namespace(calls='') -%}{%- for tc in tool_calls -%}{%- set fn = tc.function -%}"
              + call_jinja(LAYOUTS[layout_name]) + "{%- endfor -%}{{- ns.calls -}}")
    return env.from_string(source).render(tool_calls=calls)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("calls", CALL_SETS, ids=["one", "two", "empty-args"])
def test_python_and_jinja_write_the_same_calls(name: str, calls: list[dict[str, Any]]) -> None:
    assert _jinja(name, calls) == get_dialect(name).format(calls)


def test_hermes_layout_is_qwens_tool_call_block() -> None:
    # Qwen2.5's tokenizer_config.json chat_template: '<tool_call>\n{"name": "' + name + '", "arguments": ' + tojson + '}\n</tool_call>'
    calls = CALL_SETS[0]
    assert get_dialect("hermes").format(calls) == '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def test_mistral_layout_lists_calls_with_ids() -> None:
    # Mistral v0.3 template: "[TOOL_CALLS][" + items joined by ", " + "]", each {"name", "arguments", "id"}
    text = get_dialect("mistral").format(CALL_SETS[1])
    assert text == ('[TOOL_CALLS][{"name": "add", "arguments": {"a": 1, "b": [2, "é"]}, "id": "call1abcd"}, '
                    '{"name": "noop", "arguments": {"x": 1}, "id": "call2abcd"}]')


def test_mistral_spm_refuses_an_id_of_the_wrong_length_on_both_sides() -> None:
    calls = [{"id": "short", "type": "function", "function": {"name": "f", "arguments": {}}}]
    with pytest.raises(Exception, match="9 characters"):
        get_dialect("mistral_spm").format(calls)
    with pytest.raises(ValueError, match="9 characters"):
        _jinja("mistral_spm", calls)
