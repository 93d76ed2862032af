"""The family files: they load, their cross-file facts agree, hub ids and configs resolve to them,
and the facts that shared/reference can confirm match it (GGUF vocab metadata, the R1-Distill repo files).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dayzero import registry

REG = registry.default()
FAMILIES = sorted(REG.families)
CHECKPOINTS = [
    (family.id, hub_id)
    for family in REG.families.values()
    for ckpt in family.checkpoints
    for hub_id in (ckpt.hf, ckpt.modelscope)
    if hub_id
]


def test_at_least_sixteen_families_load_and_validate() -> None:
    assert len(REG.families) >= 16
    expected = {
        "llama2", "llama3", "qwen2", "qwen3", "qwen3-moe", "mistral", "mistral-nemo", "mixtral", "gemma2",
        "gemma3", "phi3", "phi4", "deepseek-r1-distill", "deepseek-v3", "glm4", "yi", "smollm2", "gpt-oss",
    }  # fmt: skip
    assert expected <= set(REG.families)


# Classes every claimant of which names its `when`: an older release shares the class with another vocabulary
# (Baichuan 1: 64000, ChatGLM-6B: 130528) and would otherwise be matched silently with the wrong template; its
# config is refused (and drafted unverified) instead.
NO_DEFAULT = {"BaichuanForCausalLM", "ChatGLMModel", "ChatGLMForConditionalGeneration"}


def test_every_architecture_has_exactly_one_default_family() -> None:
    defaults = Counter(a for f in REG.families.values() if not f.match.when for a in f.match.architectures)
    claimed = {a for f in REG.families.values() for a in f.match.architectures}
    assert {a: defaults[a] for a in claimed} == {a: 0 if a in NO_DEFAULT else 1 for a in claimed}


@pytest.mark.parametrize("family_id", FAMILIES)
def test_family_class_is_claimed_by_its_match(family_id: str) -> None:
    family = REG.families[family_id]
    assert family.architecture.model_class in family.match.architectures
    assert family.architecture.model_type in family.match.model_types


@pytest.mark.parametrize("family_id", FAMILIES)
def test_named_tokens_are_tokens_of_the_family(family_id: str) -> None:
    """generation_eos and the chat format's end of turn must be tokens the tokenizer section names."""
    family = REG.families[family_id]
    named = set(family.tokenizer.all_special())
    assert set(family.serving.generation_eos) <= named
    assert (
        family.tokenizer.eos in family.serving.generation_eos
        or family.tokenizer.eos in family.tokenizer.end_of_turn
    )
    assert set(family.tokenizer.end_of_turn) <= set(family.serving.generation_eos)


@pytest.mark.parametrize("family_id", FAMILIES)
def test_status_is_not_supported_without_a_report(family_id: str) -> None:
    family = REG.families[family_id]
    assert family.status in {"experimental", "draft"} or family.conformance.report_sha256


@pytest.mark.parametrize(("family_id", "hub_id"), CHECKPOINTS)
def test_every_listed_checkpoint_resolves_to_its_family(family_id: str, hub_id: str) -> None:
    resolution = registry.resolve(hub_id)
    assert resolution.family.id == family_id
    assert resolution.matched_by == "hub_id"
    assert resolution.checkpoint is not None


@pytest.mark.parametrize(
    ("config", "family_id"),
    [
        # vocabulary sizes of the released checkpoints (config.json of each)
        ({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256}, "llama3"),
        ({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000}, "llama2"),
        ({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64000}, "yi"),
        ({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152}, "smollm2"),
        ({"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "vocab_size": 32064}, "phi3"),
        ({"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "vocab_size": 100352}, "phi4"),
        ({"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32768}, "mistral"),
        (
            {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 131072,
             "intermediate_size": 14336},
            "mistral-nemo",
        ),
        (
            {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 131072,
             "intermediate_size": 32768},
            "mistral-small",
        ),
        ({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 152064}, "qwen2"),
        ({"architectures": ["Glm4ForCausalLM"], "model_type": "glm4"}, "glm4"),
        ({"architectures": ["GlmForCausalLM"], "model_type": "glm"}, "glm4-chat"),
        ({"model_type": "gemma3_text"}, "gemma3"),
    ],
)  # fmt: skip
def test_config_dicts_resolve_through_tie_breaks(config: dict, family_id: str) -> None:
    assert registry.resolve(config).family.id == family_id


def test_r1_distill_reference_dir_resolves_to_the_distill_family(reference_dir: Path) -> None:
    resolution = registry.resolve(reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B")
    assert resolution.family.id == "deepseek-r1-distill"
    assert resolution.matched_by == "config"


def test_r1_distill_facts_match_the_repo_files(reference_dir: Path) -> None:
    repo = reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B"
    config = json.loads((repo / "config.json").read_text())
    tok_config = json.loads((repo / "tokenizer_config.json").read_text())
    family = registry.get("deepseek-r1-distill")
    assert family.tokenizer.vocab_size == config["vocab_size"]
    assert family.architecture.tie_word_embeddings == config["tie_word_embeddings"]
    assert family.architecture.model_class in config["architectures"]
    assert family.tokenizer.bos == tok_config["bos_token"]["content"]
    assert family.tokenizer.eos == tok_config["eos_token"]["content"]
    assert family.tokenizer.pad == tok_config["pad_token"]["content"]
    assert family.tokenizer.add_bos == tok_config["add_bos_token"]
    # every special token the family names for the chat format appears in the official template
    template = tok_config["chat_template"]
    for token in ["<｜User｜>", "<｜Assistant｜>", "<｜tool▁calls▁begin｜>", "<｜tool▁output▁begin｜>"]:
        assert token in template and token in family.tokenizer.special


def _gguf_tokenizer_facts(path: Path) -> dict:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def scalar(key: str):  # type: ignore[no-untyped-def]
        field = reader.fields.get(key)
        return None if field is None else field.parts[field.data[0]][0]

    tokens_field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(tokens_field.parts[i]).decode("utf-8") for i in tokens_field.data]
    name = {k: (None if scalar(f"tokenizer.ggml.{k}") is None else tokens[int(scalar(f"tokenizer.ggml.{k}"))])
            for k in ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id")}  # fmt: skip
    return {
        "vocab_size": len(tokens),
        "add_bos": bool(scalar("tokenizer.ggml.add_bos_token")),
        **name,
        "tokens": tokens,
    }


@pytest.mark.parametrize(("family_id", "stem"), [("phi3", "phi-3"), ("llama2", "llama-spm")])
def test_sentencepiece_facts_match_the_gguf_vocabulary(
    family_id: str, stem: str, reference_dir: Path
) -> None:
    """The GGUF vocab files were converted from the HF tokenizers: an independent record of their facts."""
    facts = _gguf_tokenizer_facts(reference_dir / "llama.cpp" / "models" / f"ggml-vocab-{stem}.gguf")
    family = registry.get(family_id)
    assert family.tokenizer.vocab_size == facts["vocab_size"]
    assert family.tokenizer.add_bos == facts["add_bos"]
    assert family.tokenizer.bos == facts["bos_token_id"]
    assert family.tokenizer.unk == facts["unknown_token_id"]
    assert family.tokenizer.eos == facts["eos_token_id"]
    if facts["padding_token_id"] is not None:
        assert family.tokenizer.pad == facts["padding_token_id"]
    assert set(family.tokenizer.all_special()) <= set(facts["tokens"])


@pytest.mark.parametrize("family_id", FAMILIES)
def test_reference_paths_exist(family_id: str, reference_dir: Path) -> None:
    family = REG.families[family_id]
    if family.template.official:  # a path, optionally `#case` naming one case inside a JSON file
        assert (reference_dir / family.template.official.split("#", 1)[0]).is_file()
    if family.tokenizer.reference_vectors:
        stem = reference_dir / family.tokenizer.reference_vectors
        assert Path(f"{stem}.inp").is_file() and Path(f"{stem}.out").is_file()
    for evidence in family.verified_against:
        if evidence.kind == "reference":
            assert (reference_dir / evidence.ref.split("#")[0]).exists(), evidence.ref  # `#key`: an entry of that file


@pytest.mark.parametrize(
    "family_id", [f for f in FAMILIES if (REG.families[f].template.official or "").endswith(".jinja")]
)
def test_official_template_uses_the_family_turn_tokens(family_id: str, reference_dir: Path) -> None:
    """Each end-of-turn token is written by the official template, either literally or as `eos_token`."""
    family = REG.families[family_id]
    text = (reference_dir / family.template.official).read_text(encoding="utf-8")
    for token in family.tokenizer.end_of_turn:
        assert token in text or (token == family.tokenizer.eos and "eos_token" in text), token
    if family.template.reasoning.mode != "none":
        assert family.template.reasoning.close in text


@pytest.mark.parametrize("family_id", ["mistral", "mixtral"])
def test_mistral_v3_facts_match_the_official_sentencepiece_model(family_id: str, reference_dir: Path) -> None:
    """mistral-common ships the v3 tokenizer of Mistral-7B-Instruct-v0.3 and Mixtral-8x22B."""
    import sentencepiece as spm

    model = (
        reference_dir / "mistral-common/src/mistral_common/data/mistral_instruct_tokenizer_240323.model.v3"
    )
    sp = spm.SentencePieceProcessor(model_file=str(model))
    family = registry.get(family_id)
    assert family.tokenizer.vocab_size == sp.get_piece_size()
    assert family.tokenizer.bos == sp.id_to_piece(sp.bos_id())
    assert family.tokenizer.eos == sp.id_to_piece(sp.eos_id())
    assert family.tokenizer.unk == sp.id_to_piece(sp.unk_id())
    for token in family.tokenizer.all_special():
        assert sp.id_to_piece(sp.piece_to_id(token)) == token, token
        assert token == family.tokenizer.unk or sp.piece_to_id(token) != sp.unk_id(), token


def test_llama3_facts_match_meta_tokenizer_and_prompt_format(reference_dir: Path) -> None:
    """Meta's tiktoken file holds the 128000 BPE ranks; 256 reserved special tokens follow them."""
    ranks = (reference_dir / "llama-models/models/llama3/tokenizer.model").read_text().splitlines()
    family = registry.get("llama3")
    assert family.tokenizer.vocab_size == len(ranks) + 256
    prompt_format = (reference_dir / "llama-models/models/llama3_1/prompt_format.md").read_text()
    for token in family.tokenizer.all_special():
        assert token in prompt_format, token


@pytest.mark.parametrize(
    ("family_id", "config_class"),
    [
        # transformers' config defaults mirror these families' reference checkpoints
        ("llama2", "LlamaConfig"),
        ("qwen3", "Qwen3Config"),
        ("qwen3-moe", "Qwen3MoeConfig"),
        ("gemma2", "Gemma2Config"),
        ("phi3", "Phi3Config"),
        ("deepseek-v3", "DeepseekV3Config"),
        ("glm4", "Glm4Config"),
        ("glm4-chat", "GlmConfig"),
        ("gpt-oss", "GptOssConfig"),
    ],
)
def test_vocab_and_tying_agree_with_the_library_config_defaults(family_id: str, config_class: str) -> None:
    import transformers

    config = getattr(transformers, config_class)()
    family = registry.get(family_id)
    assert config.model_type == family.architecture.model_type
    assert config.vocab_size == family.tokenizer.vocab_size
    assert config.tie_word_embeddings == family.architecture.tie_word_embeddings
    if family.architecture.moe and hasattr(config, "first_k_dense_replace"):
        assert list(range(config.first_k_dense_replace)) == family.architecture.moe.dense_layers
