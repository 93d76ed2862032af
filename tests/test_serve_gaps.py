"""Serving gaps closed: gpt-oss calls with the recipient after the channel, and streamed reasoning of a model
that always thinks when its answer does not open with the think tag."""

from __future__ import annotations

import json

import pytest

from dayzero import registry
from dayzero.sdk.templates.dialects import get_dialect
from dayzero.sdk.templates.reasoning import split_reasoning


@pytest.mark.parametrize(
    "text",
    [
        # recipient in the header, as openai-harmony's test-data/test_does_not_drop_if_ongoing_analysis.txt writes it
        '<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{"city": "Paris"}<|call|>',
        # recipient after the channel, as test-data/test_tool_response_parsing.txt writes it (and models often do)
        '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>',
        '<|start|>assistant<|channel|>commentary to=functions.get_weather json<|message|>{"city": "Paris"}<|call|>',
    ],
)
def test_harmony_calls_in_both_header_forms(text: str) -> None:
    content, calls = get_dialect("harmony").extract(text)
    assert content == ""
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def _stream(family_id: str, text: str, opens: bool) -> tuple[tuple[str | None, str], tuple[str, str]]:
    """(non-streamed split, streamed split) of ``text`` generated token by token."""
    from dayzero.sdk.serve.chat_output import ChatOutput
    from dayzero.sdk.serve.formatting import ChatFormatting
    from dayzero.sdk.tiny import tiny_tokenizer

    family = registry.get(family_id)
    tok = tiny_tokenizer(family)
    fmt = ChatFormatting.for_family(family)
    results = []
    for stream in (False, True):
        out = ChatOutput(tok, fmt, stop=[], skip_ids=[], parse_tools=False, opens_reasoning=opens)
        reasoning, content = "", ""
        for tid in tok.encode(text, add_special_tokens=False):
            if stream:
                r, c = out.push_token_streaming(tid)
                reasoning, content = reasoning + r, content + c
            else:
                out.push_token(tid)
        if stream:
            r, c, _ = out.finish_streaming()
            results.append((reasoning + r, content + c))
        else:
            res = out.finish()
            results.append((res.reasoning, res.content))
    return results[0], results[1]


@pytest.mark.parametrize(
    "text",
    [
        "Two and two make four.</think>\n\nIt is 4.",
        "It is 4, no reasoning block at all.",
        "<think>\nTwo and two.\n</think>\n\nIt is 4.",
    ],
)
def test_streamed_split_equals_the_whole_split_for_a_thinking_model(text: str) -> None:
    family = registry.get("deepseek-r1-distill")  # reasoning mode always: the close tag alone marks reasoning
    whole, streamed = _stream("deepseek-r1-distill", text, opens=False)
    expected = split_reasoning(text, family)
    assert whole == (expected[0], expected[1])
    assert streamed == ((expected[0] or ""), expected[1])
