"""vLLM's tool-call and reasoning parsers, named from the markers a chat template writes.

A data table, most specific marker first: the first marker found in the template's source names the
parser (names as vLLM's `--tool-call-parser` / `--reasoning-parser` take them); a marker given as a tuple
needs all its strings. A template with none of the markers gets no parser: day0 drafts null rather than a guess.
"""

from __future__ import annotations

Marker = str | tuple[str, ...]

TOOL_CALL_MARKERS: tuple[tuple[Marker, str], ...] = (
    ("<|tool_calls_section_begin|>", "kimi_k2"),
    ("<｜tool▁calls▁begin｜>", "deepseek_v3"),
    ("[TOOL_CALLS]", "mistral"),
    ("<|python_tag|>", "llama3_json"),
    ("<arg_key>", "glm45"),  # GLM-4.5 / 4.6 XML arguments inside <tool_call>
    ("<function=", "qwen3_coder"),  # Qwen3-Coder's <function=name><parameter=...>
    ("<tool_call>", "hermes"),
    ("<|tool_call|>", "granite"),
    ("functools[", "phi4_mini_json"),
    ("<|action_start|><|plugin|>", "internlm"),
    ("to=functions.", "openai"),  # harmony (gpt-oss)
)

REASONING_MARKERS: tuple[tuple[Marker, str], ...] = (
    ("<|channel|>analysis", "openai_gptoss"),
    ("<seed:think>", "seed_oss"),
    ("/nothink", "glm45"),  # GLM-4.5 / 4.6 switch thinking off by appending /nothink to the user turn
    # a hybrid switch with Qwen3's think tags (Apertus also reads `enable_thinking`, but writes no <think> block)
    (("enable_thinking", "</think>"), "qwen3"),
    ("</think>", "deepseek_r1"),
    ("[/THINK]", "mistral"),  # Ministral 3 / Magistral: vLLM's MistralParserReasoningAdapter
)


def _first(source: str, table: tuple[tuple[Marker, str], ...]) -> str | None:
    return next((parser for marker, parser in table
                 if all(m in source for m in ((marker,) if isinstance(marker, str) else marker))), None)


def vllm_parsers(template_source: str) -> dict[str, str | None]:
    """{"tool_call_parser": ..., "reasoning_parser": ...} for a chat template's source."""
    return {
        "tool_call_parser": _first(template_source, TOOL_CALL_MARKERS),
        "reasoning_parser": _first(template_source, REASONING_MARKERS),
    }
