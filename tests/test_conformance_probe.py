"""The template probe reads a format's slots off official templates; the expected slots are the
hand-written formats in families/formats/ (written from the same templates by another engineer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dayzero import registry
from dayzero.conformance.probe import probe_format

CASES = [
    ("qwen2", "Qwen-Qwen2.5-7B-Instruct"),  # ChatML + a default system prompt
    ("qwen3", "Qwen-Qwen3-0.6B"),  # hybrid reasoning, empty think block on the last answer
    ("llama3", "meta-llama-Llama-3.1-8B-Instruct"),  # bos, a system preamble with a date, system always
    ("gemma2", "google-gemma-2-2b-it"),  # raises on a system message
    ("phi3", "microsoft-Phi-3.5-mini-instruct"),  # eos appended when no generation prompt follows
]


@pytest.mark.parametrize(("fid", "template"), CASES)
def test_probed_slots_equal_the_hand_written_format(fid: str, template: str, reference_dir: Path) -> None:
    fam = registry.get(fid)
    fmt = registry.default().format_of(fam)
    src = (reference_dir / "llama.cpp/models/templates" / f"{template}.jinja").read_text(encoding="utf-8")
    probed = probe_format(src, bos_token=fam.tokenizer.bos or "", eos_token=fam.tokenizer.eos)
    for key, value in probed.slots().items():
        assert getattr(fmt, key) == value, key
    assert probed.default_system == fam.template.default_system


def test_reasoning_is_read_from_the_template(reference_dir: Path) -> None:
    src = (reference_dir / "llama.cpp/models/templates/Qwen-Qwen3-0.6B.jinja").read_text(encoding="utf-8")
    probed = probe_format(src, eos_token="<|im_end|>")
    assert probed.reasoning["mode"] == "hybrid" and probed.reasoning["switch"] == "enable_thinking"
    assert registry.get("qwen3").template.reasoning.switch == "enable_thinking"


def _openvino(reference: Path, hub_id: str) -> dict:
    from dayzero.conformance.release_files import openvino_entry

    return openvino_entry(reference, hub_id)


def test_a_prompt_that_opens_the_reasoning_block_is_not_doubled_into_the_user_turn(reference_dir: Path) -> None:
    """DeepSeek-R1's prompt is `<｜Assistant｜><think>\\n`, a written answer `<｜Assistant｜>...`: the answer's head is
    `<｜Assistant｜>` and `<think>\\n` the reasoning's `on_prompt`, as the hand-written format deepseek-r1 has them."""
    entry = _openvino(reference_dir, "deepseek-ai/DeepSeek-R1")
    probed = probe_format(entry["chat_template"], bos_token=entry["bos_token"], eos_token=entry["eos_token"])
    fmt = registry.formats()["deepseek-r1"]
    assert (probed.user, probed.assistant, probed.generation_prompt) == (fmt.user, fmt.assistant, fmt.generation_prompt)
    assert probed.reasoning["on_prompt"] == registry.get("deepseek-r1-distill-llama").template.reasoning.on_prompt


def test_an_answer_head_beyond_an_empty_generation_prompt(reference_dir: Path) -> None:
    """Mistral-Instruct v0.1 ends the prompt on ` [/INST]` and writes an answer as `' ' + content + eos`
    (read by hand from openvino.genai's row): the space belongs to the answer, not to the question."""
    entry = _openvino(reference_dir, "mistralai/Mistral-7B-Instruct-v0.1")
    probed = probe_format(entry["chat_template"], bos_token="<s>", eos_token="</s>")
    assert (probed.user, probed.assistant, probed.generation_prompt) == (" [INST] {content} [/INST]", " {content}</s>", "")
