"""Ministral 3 Reasoning (text): the [THINK] block against the official template, and what it does not claim.

The official template (llama.cpp-2026's copy of Ministral-3-14B-Reasoning-2512) reads reasoning only from
`thinking` content chunks; dayzero's messages carry it as `reasoning_content`. The same conversation written both
ways must render the same text, so the family's `template.reasoning` block is the template's, not a guess.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dayzero import registry
from dayzero.sdk.templates import ChatTemplate, render_official
from dayzero.sdk.templates.parity import load_official

OFFICIAL = "llama.cpp-2026/models/templates/mistralai-Ministral-3-14B-Reasoning-2512.jinja"


def _as_chunks(messages: list[dict]) -> list[dict]:
    """The official template's form: an assistant's reasoning as a `thinking` chunk before its text."""
    out = []
    for m in messages:
        if m.get("reasoning_content") is not None:
            out.append({"role": m["role"], "content": [{"type": "thinking", "thinking": m["reasoning_content"]},
                                                       {"type": "text", "text": m["content"]}]})
        else:
            out.append({k: v for k, v in m.items() if k != "reasoning_content"})
    return out


@pytest.mark.parametrize("system", [None, "Be brief."])
def test_think_blocks_render_as_the_official_templates_thinking_chunks(reference_dir: Path, system: str | None) -> None:
    messages = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "Two plus two."},
        {"role": "user", "content": "3+3?"},
        {"role": "assistant", "content": "6", "reasoning_content": "Three plus three."},
    ]
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    tpl = ChatTemplate.for_family("ministral3")
    official = render_official(load_official(OFFICIAL, reference_dir), _as_chunks(messages),
                               bos_token="<s>", eos_token="</s>")
    assert "[THINK]Three plus three.[/THINK]6</s>" in official  # no newlines around the block
    assert tpl.render(messages) == official


def test_default_system_is_the_templates(reference_dir: Path) -> None:
    """Without a system message the template writes its reasoning instructions as the system turn."""
    messages = [{"role": "user", "content": "Hi"}]
    official = render_official(load_official(OFFICIAL, reference_dir), messages, bos_token="<s>", eos_token="</s>",
                               add_generation_prompt=True)
    assert official.startswith("<s>[SYSTEM_PROMPT]# HOW YOU SHOULD THINK AND ANSWER")
    assert ChatTemplate.for_family("ministral3").render(messages, add_generation_prompt=True) == official


@pytest.mark.parametrize(
    ("target", "family_id"),
    [
        ("mistralai/Ministral-3-14B-Reasoning-2512", "ministral3"),
        ("mistralai/Mistral-Small-3.1-24B-Instruct-2503", "mistral3"),
        ("mistralai/Mistral-Small-3.2-24B-Instruct-2506", "mistral3"),
        ("mistralai/Mistral-Small-24B-Instruct-2501", "mistral-small"),
        ("mistralai/Devstral-Small-2505", "mistral-small"),
    ],
)
def test_real_hub_ids_keep_their_families(target: str, family_id: str) -> None:
    assert registry.resolve(target).family.id == family_id


def test_image_text_configs_stay_with_mistral3() -> None:
    """The text family claims only its causal LM class: a Mistral3ForConditionalGeneration config (Mistral Small
    3.1's, or a Ministral 3 release's around a `ministral3` text config) is the vision family's; AutoModelForCausalLM
    cannot load the latter as text (transformers maps no `mistral3` config to a causal LM)."""
    for text_type in ("mistral", "ministral3"):
        cfg = {"architectures": ["Mistral3ForConditionalGeneration"], "model_type": "mistral3",
               "text_config": {"model_type": text_type}}
        assert registry.resolve(cfg).family.id == "mistral3"
    text = {"architectures": ["Ministral3ForCausalLM"], "model_type": "ministral3"}
    assert registry.resolve(text).family.id == "ministral3"
    small = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 131072,
             "intermediate_size": 32768}
    assert registry.resolve(small).family.id == "mistral-small"
