"""Variants of existing families resolve to the right entry, and the checks that promoted families rely on
are right about the official sources (reference data, ../shared/reference, skipped without it).

Expected values come from the official templates and llama.cpp's vectors, never from dayzero's own output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dayzero import registry
from dayzero.conformance.release_files import openvino_entry, write_release
from dayzero.registry.view import apply_overrides
from dayzero.sdk.templates import battery
from dayzero.sdk.templates.chat_template import ChatTemplate
from dayzero.sdk.templates.parity import load_official
from dayzero.sdk.templates.sandbox import render_official


@pytest.mark.parametrize(
    ("hub_id", "family_id", "reasoning"),
    [
        ("Qwen/QwQ-32B", "qwq", "always"),
        ("Qwen/Qwen3-4B-Thinking-2507", "qwen3", "always"),
        ("Qwen/Qwen3-4B-Instruct-2507", "qwen3", "none"),
        ("Qwen/Qwen3-8B", "qwen3", "hybrid"),
        ("01-ai/Yi-1.5-34B-Chat", "yi", "none"),
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "deepseek-r1-distill-llama", "always"),
        ("Qwen/Qwen3-30B-A3B-Thinking-2507", "qwen3-moe", "always"),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3-coder", "none"),
        ("microsoft/Phi-4-reasoning", "phi4-reasoning", "always"),
        ("HuggingFaceH4/zephyr-7b-beta", "zephyr", "none"),
    ],
)
def test_variant_hub_ids_resolve_with_their_reasoning_mode(hub_id: str, family_id: str, reasoning: str) -> None:
    res = registry.resolve(hub_id)
    assert (res.family.id, res.matched_by) == (family_id, "hub_id")
    mode = apply_overrides(res.family, res.checkpoint).template.reasoning.mode
    assert str(getattr(mode, "value", mode)) == reasoning


def _qwen2_folder(reference: Path, out: Path, hub_id: str) -> Path:
    """A Qwen2ForCausalLM release folder: tokens and chat template from openvino.genai's table for `hub_id`;
    config: Qwen2.5's architecture, model type and 152064-token vocabulary (QwQ-32B is Qwen2.5-32B's shape)."""
    entry = openvino_entry(reference, hub_id)
    return write_release(
        out,
        config={"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 152064},
        tokens=entry,
    )


def test_a_qwq_folder_resolves_to_qwq_not_qwen2(reference_dir: Path, tmp_path: Path) -> None:
    """By config QwQ is Qwen2.5; its own chat template (the `when` of qwq) tells it apart, verified."""
    res = registry.resolve(_qwen2_folder(reference_dir, tmp_path / "qwq", "Qwen/QwQ-32B"))
    assert (res.family.id, res.matched_by, res.verified) == ("qwq", "config", True)
    assert res.family.template.reasoning.on_prompt == "<think>\n"


def test_qwq_when_is_the_release_template_byte_for_byte(reference_dir: Path) -> None:
    """The discriminator is the release's own file: llama.cpp's copy and openvino.genai's agree with it."""
    when = registry.get("qwq").match.when["tokenizer_config.chat_template"]
    assert when == (reference_dir / "llama.cpp/models/templates/Qwen-QwQ-32B.jinja").read_text(encoding="utf-8")
    assert when == openvino_entry(reference_dir, "Qwen/QwQ-32B")["chat_template"]


def test_qwq_generation_prompt_opens_think_as_the_official_template(reference_dir: Path) -> None:
    fam = registry.get("qwq")
    official = load_official(fam.template.official, reference_dir)
    messages = [{"role": "user", "content": "2+2?"}]
    want = render_official(official, messages, add_generation_prompt=True)
    assert want.endswith("<|im_start|>assistant\n<think>\n")
    assert ChatTemplate.for_family(fam).render(messages, add_generation_prompt=True) == want


def test_starcoder2_deviations_are_only_the_trailing_response_header(reference_dir: Path) -> None:
    """The official StarCoder2-Instruct template appends `### Response\\n` even without a generation prompt;
    every recorded deviation must be exactly that, nothing else."""
    fam = registry.get("starcoder2-instruct")
    tpl = ChatTemplate.for_family(fam)
    official = load_official(fam.template.official, reference_dir)
    cases = {c.id: c for c in battery.cases()}
    assert fam.template.deviations
    for dev in fam.template.deviations:
        case = cases[dev.case]
        ours = tpl.render(case.messages)
        theirs = render_official(official, case.messages, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
        assert theirs == ours + "### Response\n", dev.case


@pytest.mark.parametrize(
    ("family_id", "want"),
    [
        # openvino.genai's CohereLabs/c4ai-command-r7b-12-2024 template, non-document branch, read by hand:
        # an empty system turn when there is no system message, stripped user/assistant content.
        ("command-r7b", "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|><|END_OF_TURN_TOKEN|>"
                        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>hi<|END_OF_TURN_TOKEN|>"
                        "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|><|START_RESPONSE|>yo<|END_RESPONSE|><|END_OF_TURN_TOKEN|>"),
        # allenai/OLMo-7B-0724-Instruct-hf: `{{ eos_token }}` first, then `<|user|>\n...\n`.
        ("olmo", "<|endoftext|><|user|>\nhi\n<|assistant|>\nyo<|endoftext|>\n"),
        # 01-ai/Yi-1.5-34B-Chat without a system message: plain ChatML turns.
        ("yi", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n"),
    ],
)
def test_promoted_formats_render_the_hand_read_official_text(family_id: str, want: str) -> None:
    messages = [{"role": "user", "content": " hi "}, {"role": "assistant", "content": " yo\n"}]
    if family_id != "command-r7b":
        messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert ChatTemplate.for_family(registry.get(family_id)).render(messages) == want


def test_yi_writes_the_system_text_raw(reference_dir: Path) -> None:
    fam = registry.get("yi")
    official = load_official(fam.template.official, reference_dir)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    want = render_official(official, messages, add_generation_prompt=True)
    assert want.startswith("Be brief.<|im_start|>user\nhi<|im_end|>\n")
    assert ChatTemplate.for_family(fam).render(messages, add_generation_prompt=True) == want


@pytest.mark.slow
def test_llama_spm_vocabulary_reproduces_llama_cpp_vectors_with_its_dummy_prefix(reference_dir: Path) -> None:
    """llama.cpp's expected ids for ' Hello' are [29871, 15043] (`▁` + `▁Hello`): sentencepiece's dummy prefix."""
    from dayzero.conformance.checks.tokenizer import _gguf_tokenizer, read_vectors

    stem = reference_dir / "llama.cpp/models/ggml-vocab-llama-spm.gguf"
    if not stem.is_file():
        pytest.skip(f"{stem} is absent (only .inp/.out)")
    tok = _gguf_tokenizer(str(stem))
    pairs = read_vectors(stem)
    assert dict(pairs)[" Hello"] == [29871, 15043]
    bad = [t for t, ids in pairs if tok.encode(t, add_special_tokens=False) != ids]
    assert bad == []


def test_token_parity_fallback_only_for_the_none_dropping_cause(reference_dir: Path) -> None:
    """DeepSeek-R1's template fails on OpenAI's `content: None` only once the key is dropped (what transformers
    does); a template that fails for another reason gets no fallback."""
    from dayzero.conformance.checks.template import _official_without_none_drop
    from dayzero.sdk.tiny import tiny_tokenizer

    fam = registry.get("deepseek-r1-distill")
    tpl, tok = ChatTemplate.for_family(fam), tiny_tokenizer(fam)
    official = load_official(fam.template.official, reference_dir)
    case = next(c for c in battery.cases() if c.id == "openai_parallel_calls")
    kw = {"tools": None, "add_generation_prompt": False}
    ids = _official_without_none_drop(tpl, tok, official, case, kw, {})
    assert ids is not None and ids == tok(tpl.render(case.messages), add_special_tokens=False)["input_ids"]
    broken = "{{ raise_exception('always') }}"
    assert _official_without_none_drop(tpl, tok, broken, case, kw, {}) is None
    plain = next(c for c in battery.cases() if c.id == "single")
    assert _official_without_none_drop(tpl, tok, official, plain, kw, {}) is None


def _phi4_folder(reference: Path, out: Path, hub_id: str) -> Path:
    """A Phi3ForCausalLM release: tokens and template from openvino.genai's table for `hub_id`; config: Phi-4's
    class, model type and 100352-token vocabulary (Phi-4-reasoning is fine-tuned from Phi-4)."""
    entry = openvino_entry(reference, hub_id)
    return write_release(
        out, config={"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "vocab_size": 100352}, tokens=entry
    )


def test_phi4_reasoning_when_refines_phi4s(reference_dir: Path, tmp_path: Path) -> None:
    """Both `when`s hold for a Phi-4-reasoning folder; the one that adds the template condition wins. A Phi-4
    folder still resolves to phi4."""
    res = registry.resolve(_phi4_folder(reference_dir, tmp_path / "r", "microsoft/Phi-4-reasoning"))
    assert (res.family.id, res.matched_by, res.verified) == ("phi4-reasoning", "config", True)
    res = registry.resolve(_phi4_folder(reference_dir, tmp_path / "p", "microsoft/phi-4"))
    assert (res.family.id, res.matched_by) == ("phi4", "config")


def test_phi4_reasoning_always_writes_its_system_prompt(reference_dir: Path) -> None:
    fam = registry.get("phi4-reasoning")
    official = load_official(fam.template.official, reference_dir)
    messages = [{"role": "system", "content": "Ignored."}, {"role": "user", "content": "2+2?"}]
    want = render_official(official, messages, add_generation_prompt=True)
    assert "Ignored." not in want and want.startswith("<|im_start|>system<|im_sep|>You are Phi, ")
    assert ChatTemplate.for_family(fam).render(messages, add_generation_prompt=True) == want


def test_qwen3_instruct_2507_renders_as_trls_copy_of_its_template(reference_dir: Path) -> None:
    """trl/chat_templates/qwen3_instruct_2507.jinja (Qwen3-4B-Instruct-2507): no think blocks anywhere."""
    official = (reference_dir / "trl/trl/chat_templates/qwen3_instruct_2507.jinja").read_text(encoding="utf-8")
    tpl = ChatTemplate.for_family("qwen3", "Qwen/Qwen3-4B-Instruct-2507")
    compared = 0
    for case in battery.cases():
        if case.thinking or "reasoning" in case.needs or case.id.startswith("openai_"):
            continue
        kw = {"tools": case.tools, "add_generation_prompt": case.add_generation_prompt}
        assert tpl.render(case.messages, **kw) == render_official(official, case.messages, **kw), case.id
        compared += 1
    assert compared >= 10


def test_qwen3_thinking_2507_prompt_opens_the_reasoning_block() -> None:
    """The Thinking-2507 template ends its generation prompt with `<think>\\n` (the model writes only the close);
    the hybrid Qwen3 prompt does not."""
    messages = [{"role": "user", "content": "2+2?"}]
    thinking = ChatTemplate.for_family("qwen3", "Qwen/Qwen3-4B-Thinking-2507").render(messages, add_generation_prompt=True)
    assert thinking.endswith("<|im_start|>assistant\n<think>\n")
    hybrid = ChatTemplate.for_family("qwen3", "Qwen/Qwen3-8B").render(messages, add_generation_prompt=True)
    assert hybrid.endswith("<|im_start|>assistant\n")
    trained = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4", "reasoning_content": "Sum."}]
    assert ChatTemplate.for_family("qwen3", "Qwen/Qwen3-4B-Thinking-2507").render(trained) == \
        ChatTemplate.for_family("qwen3", "Qwen/Qwen3-8B").render(trained)


def _hfjs_case(reference: Path, name: str) -> dict:
    import json

    data = json.loads((reference / "huggingface.js/jinja-e2e-expected.json").read_text(encoding="utf-8"))
    return next(c for c in data["cases"] if c["name"] == name)


def test_zephyr_renders_huggingface_js_expected_text(reference_dir: Path) -> None:
    """huggingface.js's e2e test pins zephyr-7b-beta's render (with and without the generation prompt)."""
    tpl = ChatTemplate.for_family("zephyr")
    for name in ("HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=false)",
                 "HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=true)"):
        case = _hfjs_case(reference_dir, name)
        data = case["data"]
        got = tpl.render(data["messages"], add_generation_prompt=data["add_generation_prompt"])
        assert got == case["target"], name


def test_a_zephyr_folder_resolves_to_zephyr_and_mistral_v01_does_not(reference_dir: Path, tmp_path: Path) -> None:
    """Mistral 7B v0.1's config (32000-token vocabulary) with Zephyr's template is zephyr; with Mistral-Instruct
    v0.1's own template (huggingface.js) it is not claimed by zephyr."""
    config = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32000}
    tokens = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    zephyr = _hfjs_case(reference_dir, "HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=false)")["chat_template"]
    res = registry.resolve(write_release(tmp_path / "z", config=config, tokens={**tokens, "chat_template": zephyr}))
    assert (res.family.id, res.matched_by, res.verified) == ("zephyr", "config", True)
    mistral = _hfjs_case(reference_dir, "TheBloke/Mistral-7B-Instruct-v0.1-GPTQ")["chat_template"]
    res = registry.resolve(write_release(tmp_path / "m", config=config, tokens={**tokens, "chat_template": mistral}))
    assert res.family.id != "zephyr"


def _qwen3_moe_folder(reference: Path, out: Path, template: str) -> Path:
    """A Qwen3MoeForCausalLM release with Qwen3's tokens and the chat template at `template` (reference data)."""
    source = (reference / template).read_text(encoding="utf-8")
    return write_release(
        out,
        config={"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "vocab_size": 151936},
        tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "chat_template": source},
    )


def test_a_qwen3_coder_folder_resolves_to_qwen3_coder(reference_dir: Path, tmp_path: Path) -> None:
    folder = _qwen3_moe_folder(reference_dir, tmp_path / "c", "minja/tests_files/Qwen-Qwen3-Coder-30B-A3B-Instruct.jinja")
    res = registry.resolve(folder)
    assert (res.family.id, res.matched_by, res.verified) == ("qwen3-coder", "config", True)
    assert not res.family.template.tool_dialect  # its XML tool calls are not modelled: refused, not written as Hermes


def test_another_qwen3_coder_template_is_not_silently_qwen3_moe(reference_dir: Path, tmp_path: Path) -> None:
    """llama.cpp's edited copy of the Coder template is not the release's, so qwen3-coder's `when` does not hold and
    the config falls to qwen3-moe; the Coder tools block (XML) is not Qwen3's (Hermes) in any of qwen3-moe's variants,
    so the match is reported unverified instead of serving Hermes tools to a Coder model."""
    folder = _qwen3_moe_folder(reference_dir, tmp_path / "c", "llama.cpp-2026/models/templates/Qwen3-Coder.jinja")
    res = registry.resolve(folder)
    assert res.family.id == "qwen3-moe" and res.matched_by == "config"
    assert not res.verified and any("chat template" in c for c in res.conflicts)


def test_a_qwen3_instruct_2507_folder_is_verified(reference_dir: Path, tmp_path: Path) -> None:
    """Matched by config to the hybrid qwen3, the Instruct-2507 template (TRL's copy) agrees with the Instruct-2507
    override (reasoning: none), so it is not a conflict (the tools block compared too)."""
    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936}
    tokens = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    instruct = (reference_dir / "trl/trl/chat_templates/qwen3_instruct_2507.jinja").read_text(encoding="utf-8")
    res = registry.resolve(write_release(tmp_path / "i", config=config, tokens={**tokens, "chat_template": instruct}))
    assert (res.family.id, res.verified) == ("qwen3", True), res.conflicts
