"""Llama 4 (text): the format against Meta's rendered prompts, the tokens and vocabulary against Meta's files.

No Hugging Face template of Llama 4 is in the reference data, so the evidence is Meta's own
`llama-models/models/llama4/prompt_format.md`: every text-only "Input Prompt Format" block (image prompts are out
of this text family's scope) is split into turns by its role headers, rendered by the family's format, and
compared with the block; the documented "Model Response Format" answer is rendered as the next assistant turn.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.sdk.templates import ChatTemplate

PROMPT_FORMAT = "llama-models/models/llama4/prompt_format.md"
_BLOCK = re.compile(r"##### (Input Prompt|Model Response) Format\n```\n(.*?)\n```", re.S)
_TURN = re.compile(r"<\|header_start\|>(\w+)<\|header_end\|>\n\n(.*?)<\|eot\|>", re.S)


def _documented(reference_dir: Path) -> list[tuple[str, str]]:
    """(prompt, response) pairs of the text-only examples, as prompt_format.md writes them."""
    text = (reference_dir / PROMPT_FORMAT).read_text(encoding="utf-8")
    blocks = _BLOCK.findall(text)
    pairs = [(blocks[i][1], blocks[i + 1][1]) for i in range(0, len(blocks) - 1, 2)
             if blocks[i][0] == "Input Prompt" and blocks[i + 1][0] == "Model Response"]
    return [(p, r) for p, r in pairs if "<|image_start|>" not in p]


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in _TURN.findall(prompt)]


def test_prompt_format_holds_the_text_examples(reference_dir: Path) -> None:
    """Four text conversations: the plain chat and three zero-shot tool-calling prompts (system, user, custom)."""
    pairs = _documented(reference_dir)
    assert len(pairs) == 4
    assert [len(_messages(p)) for p, _ in pairs] == [2, 2, 1, 2]


@pytest.mark.parametrize("index", range(4))
def test_format_renders_meta_prompts(reference_dir: Path, index: int) -> None:
    prompt, response = _documented(reference_dir)[index]
    tpl = ChatTemplate.for_family("llama4")
    messages = _messages(prompt)
    assert tpl.render(messages, add_generation_prompt=True) == prompt
    answer = response.removesuffix("<|eot|>")
    assert answer != response, "a documented text answer ends on <|eot|>"
    full = tpl.render([*messages, {"role": "assistant", "content": answer}])
    assert full == prompt + response


def test_special_tokens_are_meta_documented_and_vocabulary_is_the_tiktoken_ranks(reference_dir: Path) -> None:
    """tokenizer.model holds the 200000 BPE ranks; llama-models' tokenizer.py reserves 2048 special ids after them."""
    family = registry.get("llama4")
    ranks = (reference_dir / "llama-models/models/llama4/tokenizer.model").read_text().splitlines()
    assert family.tokenizer.vocab_size == len(ranks) + 2048
    prompt_format = (reference_dir / PROMPT_FORMAT).read_text(encoding="utf-8")
    for token in family.tokenizer.all_special():
        if token != family.tokenizer.pad:  # <|finetune_right_pad|> is named by tokenizer.py only
            assert f"`{token}`" in prompt_format or token in prompt_format, token


def test_vocab_and_tying_agree_with_the_text_config_defaults() -> None:
    import transformers

    config = transformers.Llama4TextConfig()
    family = registry.get("llama4")
    assert config.model_type == family.architecture.model_type
    assert config.vocab_size == family.tokenizer.vocab_size
    assert config.tie_word_embeddings == family.architecture.tie_word_embeddings


def test_tiny_instance_has_a_dense_and_an_moe_layer_where_the_entry_says() -> None:
    import transformers

    family = registry.get("llama4")
    arch = family.architecture
    config = transformers.Llama4TextConfig(**arch.tiny)
    assert config.layer_types == ["chunked_attention", "full_attention"]  # both attention kinds exercised
    model = transformers.AutoModelForCausalLM.from_config(config)
    assert type(model).__name__ == arch.model_class
    for index in range(config.num_hidden_layers):
        layer = model.get_submodule(arch.layers.format(index))
        parts, _ = arch.layer_parts(index)
        assert ("moe" in parts) == (index in config.moe_layers)
        names = dict(layer.named_modules())
        if "moe" in parts:
            assert type(names[arch.moe.experts.rsplit(".", 1)[0]]).__name__ == arch.moe.block_class
            assert arch.moe.router in names and arch.moe.shared_experts in names
            experts = names[arch.moe.experts]
            assert sorted(n for n, p in experts.named_parameters() if p.dim() == 3) == sorted(arch.moe.fused_parameters)
        else:
            assert all(path in names for path in arch.mlp.paths())


def test_config_files_resolve_llama4_and_llama3_stays_llama3() -> None:
    """Llama 4's classes are its own; Llama 3.x's LlamaForCausalLM (vocab 128256) keeps resolving to llama3."""
    for arch, model_type in (("Llama4ForConditionalGeneration", "llama4"), ("Llama4ForCausalLM", "llama4_text")):
        assert registry.resolve({"architectures": [arch], "model_type": model_type}).family.id == "llama4"
    llama3 = registry.resolve({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256})
    assert llama3.family.id == "llama3"
    for ckpt in registry.get("llama3").checkpoints:
        assert registry.resolve(ckpt.hf).family.id == "llama3"
    for ckpt in registry.get("llama4").checkpoints:
        assert registry.resolve(ckpt.hf).family.id == "llama4"


def test_chunked_head_reaches_the_decoder_trl_misses() -> None:
    """Llama4ForCausalLM's `base_model_prefix` (`language_model`) names no attribute, so `base_model` is the model
    itself and TRL 1.16's fused head reads no hidden states; dayzero's chunked head finds `model` and gives the
    class's own loss, also when the trainer asks for router logits (this class computes no router loss)."""
    import torch
    import transformers

    from dayzero.sdk.train import lm_head

    torch.manual_seed(0)
    arch = registry.get("llama4").architecture
    model = transformers.AutoModelForCausalLM.from_config(transformers.Llama4TextConfig(**arch.tiny))
    assert model.base_model is model
    assert lm_head.backbone(model) is model.model
    ids = torch.randint(3, 512, (2, 12))
    expected = model(input_ids=ids, labels=ids).loss
    assert lm_head.install(model, ("entropy",))
    got = model(input_ids=ids, labels=ids, fused_lm_head=True, output_router_logits=True)
    torch.testing.assert_close(got.loss, expected, rtol=1e-5, atol=1e-5)
    assert got.aux_loss is None  # Llama4ForCausalLM computes no router loss, so none is added


def test_day0_walk_of_the_release_class_gives_the_reviewed_layout() -> None:
    """The architecture was drafted by day0's walk of the release's class (config.json names the image-text
    `Llama4ForConditionalGeneration`); its tiny instance has only MoE layers, so the review added the dense MLP
    (`mlp`, `moe.dense_layers`) that Maverick's interleaved layers hold."""
    from dayzero.conformance.day0 import walk_architecture
    from dayzero.registry.schema import Architecture

    drafted = Architecture.model_validate(
        walk_architecture({"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4"})
    )
    hand = registry.get("llama4").architecture
    assert (drafted.model_class, drafted.model_type, drafted.layers, drafted.decoder_layer) == \
        (hand.model_class, hand.model_type, hand.layers, hand.decoder_layer)
    assert drafted.attention == hand.attention
    assert drafted.moe == hand.moe.model_copy(update={"dense_layers": []})
    assert drafted.mlp is None and hand.mlp is not None
    assert sorted(drafted.lora.all_linear) == sorted(hand.lora.all_linear)
    assert sorted(drafted.lora.target_parameters) == sorted(hand.lora.target_parameters)
    assert set(drafted.lora.never) <= set(hand.lora.never)
