"""Releases that `dayzero day0` drafts families from, assembled from shared/reference (no hub access here).

Each entry names where every fact comes from: the chat template (a reference file, an openvino.genai table
row, a huggingface.js case or a vendor's tokenizer_config.json), the special tokens (the same row, or the
note says what backs them), and the few config.json facts the reference data lacks (architecture and
model_type as the vendor's config.json names them; vocab size only where a source gives it). This is
provenance data for the drafting tool and its tests, not family facts: the family files are what day0
writes, reviewed by hand.

`python -m dayzero.conformance.day0_releases ID [--out DIR]` assembles one release and runs `day0` on it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.errors import ConformanceError, Where

from .release_files import openvino_entry, write_release

HFJS_TABLE = "huggingface.js/jinja-e2e-expected.json"


@dataclass(frozen=True)
class Release:
    """One release: its hub id, where its template and tokens come from, and its config facts."""

    hub: str
    template: str
    """`openvino:<hub id>`, `hfjs:<case name>`, `vendor:<folder>` (its config/tokenizer/generation files) or a
    path under shared/reference (a `.jinja` file)."""
    config: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    """bos_token / eos_token / pad_token / unk_token where the template source does not carry them."""
    add_bos_token: bool | None = None
    checkpoints: tuple[dict[str, Any], ...] = ()
    """Hub ids (`hf`, `modelscope` where known, `size`, `kind`), written into the draft."""
    note: str = ""

    def official(self) -> str:
        """The `template.official` reference of this release's template."""
        kind, _, rest = self.template.partition(":")
        if kind == "openvino":
            return f"openvino.genai/tokenizer-configs.json#{rest}"
        if kind == "hfjs":
            return f"{HFJS_TABLE}#{rest}"
        if kind == "vendor":
            return f"{rest}/tokenizer_config.json"
        return self.template


# ModelScope ids are recorded only where the vendor's ModelScope org follows a naming rule the registry already
# relies on: `deepseek-ai/<same name>` (as deepseek-r1-distill*) and Zhipu's `ZhipuAI/<same name>`; others are null.
RELEASES: dict[str, Release] = {
    "glm4-moe": Release(
        checkpoints=(
            {
                "hf": "zai-org/GLM-4.5",
                "modelscope": "ZhipuAI/GLM-4.5",
                "size": "355B-A32B",
                "kind": "instruct",
            },
            {
                "hf": "zai-org/GLM-4.5-Air",
                "modelscope": "ZhipuAI/GLM-4.5-Air",
                "size": "106B-A12B",
                "kind": "instruct",
            },
            {
                "hf": "zai-org/GLM-4.6",
                "modelscope": "ZhipuAI/GLM-4.6",
                "size": "355B-A32B",
                "kind": "instruct",
            },
        ),
        hub="zai-org/GLM-4.5-Air",
        template="trl/trl/chat_templates/glm4moe.jinja",
        config={"architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe"},
        tokens={"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
        note="tokens: the GLM-4 tokenizer's (openvino row THUDM/glm-4-9b-chat: no bos, eos = pad = <|endoftext|>)",
    ),
    "falcon3": Release(
        checkpoints=(
            {"hf": "tiiuae/Falcon3-1B-Instruct", "size": "1B", "kind": "instruct"},
            {"hf": "tiiuae/Falcon3-3B-Instruct", "size": "3B", "kind": "instruct"},
            {"hf": "tiiuae/Falcon3-7B-Instruct", "size": "7B", "kind": "instruct"},
            {"hf": "tiiuae/Falcon3-10B-Instruct", "size": "10B", "kind": "instruct"},
        ),
        hub="tiiuae/Falcon3-3B-Instruct",
        template="openvino:tiiuae/Falcon3-3B-Instruct",
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
        note="Falcon3 is a Llama-architecture model, told apart from llama3 by its eos (`match.when`); its template drops "
        "the newline after the last answer only (format field `final_tail`, probed since round 5)",
    ),
    "granite4": Release(
        checkpoints=({"hf": "ibm-granite/granite-4.0-h-small", "size": "32B-A9B", "kind": "instruct"},),
        hub="ibm-granite/granite-4.0-h-small",
        template="llama.cpp-2026/models/templates/ibm-granite-granite-4.0.jinja",
        config={"architectures": ["GraniteMoeHybridForCausalLM"], "model_type": "granitemoehybrid"},
        tokens={"bos_token": "<|end_of_text|>", "eos_token": "<|end_of_text|>", "pad_token": "<|pad|>"},
        note="tokens: the template ends every turn on <|end_of_text|> (as Granite 3's table rows, where bos = eos); "
        "pad <|pad|> is not in the reference data",
    ),
    "minicpm3": Release(
        checkpoints=({"hf": "openbmb/MiniCPM3-4B", "size": "4B", "kind": "instruct"},),
        hub="openbmb/MiniCPM3-4B",
        template="openvino:openbmb/MiniCPM3-4B",
        config={"architectures": ["MiniCPM3ForCausalLM"], "model_type": "minicpm3"},
    ),
    "smollm3": Release(
        checkpoints=({"hf": "HuggingFaceTB/SmolLM3-3B", "size": "3B", "kind": "instruct"},),
        hub="HuggingFaceTB/SmolLM3-3B",
        template="hfjs:HuggingFaceTB/SmolLM3-3B",
        config={"architectures": ["SmolLM3ForCausalLM"], "model_type": "smollm3"},
        tokens={"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"},
        note="tokens: the template's end of turn; the case carries no token fields",
    ),
    "deepseek-v2": Release(
        checkpoints=(
            {
                "hf": "deepseek-ai/DeepSeek-V2-Lite-Chat",
                "modelscope": "deepseek-ai/DeepSeek-V2-Lite-Chat",
                "size": "16B-A2.4B",
                "kind": "instruct",
            },
            {
                "hf": "deepseek-ai/DeepSeek-V2-Chat",
                "modelscope": "deepseek-ai/DeepSeek-V2-Chat",
                "size": "236B-A21B",
                "kind": "instruct",
            },
        ),
        hub="deepseek-ai/DeepSeek-V2-Lite-Chat",
        template="openvino:deepseek-ai/DeepSeek-V2-Lite-Chat",
        config={
            "architectures": ["DeepseekV2ForCausalLM"],
            "model_type": "deepseek_v2",
            "vocab_size": 102400,
        },
        add_bos_token=True,
    ),
    "deepseek-llm": Release(
        checkpoints=(
            {
                "hf": "deepseek-ai/deepseek-llm-7b-chat",
                "modelscope": "deepseek-ai/deepseek-llm-7b-chat",
                "size": "7B",
                "kind": "instruct",
            },
            {
                "hf": "deepseek-ai/deepseek-llm-67b-chat",
                "modelscope": "deepseek-ai/deepseek-llm-67b-chat",
                "size": "67B",
                "kind": "instruct",
            },
        ),
        hub="deepseek-ai/deepseek-llm-7b-chat",
        template="hfjs:deepseek-ai/deepseek-llm-7b-chat",
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 102400},
        tokens={"pad_token": "<｜end▁of▁sentence｜>"},
        add_bos_token=True,
        note="bos/eos from the case's context; pad as openvino's row deepseek-ai/deepseek-math-7b-rl (the same DeepSeek-LLM tokenizer); vocab 102400 as the deepseek-llm GGUF vocabulary in llama.cpp/models",
    ),
    "kimi-k2": Release(
        checkpoints=(
            {"hf": "moonshotai/Kimi-K2-Instruct", "size": "1T-A32B", "kind": "instruct"},
            {"hf": "moonshotai/Kimi-K2-Instruct-0905", "size": "1T-A32B", "kind": "instruct"},
        ),
        hub="moonshotai/Kimi-K2-Instruct",
        template="llama.cpp/models/templates/moonshotai-Kimi-K2.jinja",
        config={"architectures": ["DeepseekV3ForCausalLM"], "model_type": "kimi_k2"},
        tokens={"bos_token": "[BOS]", "eos_token": "[EOS]", "pad_token": "[PAD]", "unk_token": "[UNK]"},
        note="tokens are not in the reference data (the template names <|im_end|> as the end of turn)",
    ),
    "hunyuan-moe": Release(
        checkpoints=({"hf": "tencent/Hunyuan-A13B-Instruct", "size": "80B-A13B", "kind": "instruct"},),
        hub="tencent/Hunyuan-A13B-Instruct",
        template="vendor:Hunyuan-A13B/models",
        note="the vendor's own config.json, tokenizer_config.json and generation_config.json",
    ),
    "nemotron3": Release(
        checkpoints=(
            {"hf": "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "size": "30B-A3B", "kind": "instruct"},
        ),
        hub="nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
        template="trl/trl/chat_templates/nemotron_3_nano.jinja",
        config={"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h"},
        tokens={"bos_token": "<s>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"},
        note="tokens: the template's end of turn; bos <s> is not in the reference data; NemotronH layers hold one "
        "mixer each (Mamba, attention, MoE or MLP): described per layer kind (`architecture.layer_kinds`)",
    ),
    "qwen3.5": Release(
        checkpoints=(
            {"hf": "Qwen/Qwen3.5-4B", "modelscope": "Qwen/Qwen3.5-4B", "size": "4B", "kind": "instruct"},
            {"hf": "Qwen/Qwen3.5-9B", "modelscope": "Qwen/Qwen3.5-9B", "size": "9B", "kind": "instruct"},
            {"hf": "Qwen/Qwen3.5-27B", "modelscope": "Qwen/Qwen3.5-27B", "size": "27B", "kind": "instruct"},
        ),
        hub="Qwen/Qwen3.5-4B",
        template="trl/trl/chat_templates/qwen3_5_think.jinja",
        # the release's class is image-text; AutoModelForCausalLM loads its language model (day0 drafts that)
        config={"architectures": ["Qwen3_5ForConditionalGeneration"], "model_type": "qwen3_5"},
        tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        note="template: TRL's Qwen3.5 think copy (4B and larger; the 2B and smaller ship the nothink one); tokens: "
        "the template's end of turn, no bos (as Qwen3), pad <|endoftext|> as Qwen3's is not in the reference data",
    ),
    "ministral3": Release(
        checkpoints=(
            {
                "hf": "mistralai/Ministral-3-14B-Reasoning-2512",
                "modelscope": None,
                "size": "14B",
                "kind": "reasoning",
            },
        ),
        hub="mistralai/Ministral-3-14B-Reasoning-2512",
        template="llama.cpp-2026/models/templates/mistralai-Ministral-3-14B-Reasoning-2512.jinja",
        # the release's class is image-text (Mistral3ForConditionalGeneration around a `ministral3` text config);
        # the text family is the causal LM of that text config (Ministral3ForCausalLM)
        config={"architectures": ["Ministral3ForCausalLM"], "model_type": "ministral3", "vocab_size": 131072},
        tokens={"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
        add_bos_token=True,
        note="template: llama.cpp's copy of the 14B Reasoning template ([THINK]...[/THINK], a long default system); "
        "tokens: the template's bos/eos variables as Mistral's tekken tokenizer (mistral-small); vocab 131072 as "
        "transformers' Ministral3Config default and tekken's; the Instruct / Base / 3B / 8B releases ship other "
        "templates, not in the reference data",
    ),
    "lfm2": Release(
        checkpoints=(
            {"hf": "LiquidAI/LFM2-350M", "size": "350M", "kind": "instruct"},
            {"hf": "LiquidAI/LFM2-700M", "size": "700M", "kind": "instruct"},
            {"hf": "LiquidAI/LFM2-1.2B", "size": "1.2B", "kind": "instruct"},
            {"hf": "LiquidAI/LFM2-2.6B", "size": "2.6B", "kind": "instruct"},
        ),
        hub="LiquidAI/LFM2-1.2B",
        template="trl/trl/chat_templates/lfm2.jinja",
        config={"architectures": ["Lfm2ForCausalLM"], "model_type": "lfm2"},
        tokens={"bos_token": "<|startoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|pad|>"},
        note="tokens: the template's end of turn; bos/pad are not in the reference data",
    ),
    "lfm2-moe": Release(
        checkpoints=({"hf": "LiquidAI/LFM2-8B-A1B", "size": "8B-A1B", "kind": "instruct"},),
        hub="LiquidAI/LFM2-8B-A1B",
        template="llama.cpp-2026/models/templates/LFM2-8B-A1B.jinja",
        config={"architectures": ["Lfm2MoeForCausalLM"], "model_type": "lfm2_moe"},
        tokens={"bos_token": "<|startoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|pad|>"},
        note="tokens as LFM2's (the same template); not in the reference data",
    ),
    "apertus": Release(
        checkpoints=(
            {"hf": "swiss-ai/Apertus-8B-Instruct-2509", "size": "8B", "kind": "instruct"},
            {"hf": "swiss-ai/Apertus-70B-Instruct-2509", "size": "70B", "kind": "instruct"},
        ),
        hub="swiss-ai/Apertus-8B-Instruct-2509",
        template="llama.cpp-2026/models/templates/Apertus-8B-Instruct.jinja",
        config={"architectures": ["ApertusForCausalLM"], "model_type": "apertus"},
        tokens={"bos_token": "<s>", "eos_token": "<|assistant_end|>", "pad_token": "<pad>"},
        add_bos_token=True,
        note="tokens: the template's end of turn; bos <s> / pad <pad> are not in the reference data; the dated default "
        "system and the developer block after every system turn are probed since round 5 (token-aware turn split, "
        "`{date}` in a default system); the final answer the template leaves open is a drafted deviation",
    ),
    "granite3-moe": Release(
        hub="ibm-granite/granite-3.0-1b-a400m-instruct",
        checkpoints=(
            {"hf": "ibm-granite/granite-3.0-1b-a400m-instruct", "size": "1B-A400M", "kind": "instruct"},
            {"hf": "ibm-granite/granite-3.0-3b-a800m-instruct", "size": "3B-A800M", "kind": "instruct"},
        ),
        template="openvino:ibm-granite/granite-3.0-1b-a400m-instruct",
        config={"architectures": ["GraniteMoeForCausalLM"], "model_type": "granitemoe"},
        note="3.1's MoE row has another template (a dated default system): added in round 4 as a checkpoint "
        "whose `overrides.default_system` writes it",
    ),
    "falcon": Release(
        hub="tiiuae/falcon-7b-instruct",
        checkpoints=(
            {"hf": "tiiuae/falcon-7b-instruct", "size": "7B", "kind": "instruct"},
            {"hf": "tiiuae/falcon-40b-instruct", "size": "40B", "kind": "instruct"},
        ),
        template="openvino:tiiuae/falcon-7b-instruct",
        config={"architectures": ["FalconForCausalLM"], "model_type": "falcon", "vocab_size": 65024},
        note="vocab 65024 as the falcon GGUF vocabulary in llama.cpp/models (same tokenizer); NO FAMILY: no end-of-turn token, and the template rewrites newlines inside content",
    ),
    "seed-oss": Release(
        hub="ByteDance-Seed/Seed-OSS-36B-Instruct",
        checkpoints=({"hf": "ByteDance-Seed/Seed-OSS-36B-Instruct", "size": "36B", "kind": "reasoning"},),
        template="llama.cpp/models/templates/ByteDance-Seed-OSS.jinja",
        config={"architectures": ["SeedOssForCausalLM"], "model_type": "seed_oss"},
        tokens={"bos_token": "<seed:bos>", "eos_token": "<seed:eos>", "pad_token": "<seed:pad>"},
        note="tokens: the template's own literals <seed:bos> / <seed:eos> / <seed:pad>",
    ),
    "openchat": Release(
        hub="openchat/openchat-3.5-0106",
        checkpoints=({"hf": "openchat/openchat-3.5-0106", "size": "7B", "kind": "instruct"},),
        template="openvino:openchat/openchat-3.5-0106",
        config={"architectures": ["MistralForCausalLM"], "model_type": "mistral"},
        add_bos_token=True,
        note="a Mistral-7B fine-tune with its own turn format and end of turn <|end_of_turn|>",
    ),
    # Round 4 (issue 12): releases with a transformers class and their template in openvino.genai's table.
    "dbrx": Release(
        hub="databricks/dbrx-instruct",
        checkpoints=({"hf": "databricks/dbrx-instruct", "size": "132B-A36B", "kind": "instruct"},),
        template="openvino:databricks/dbrx-instruct",
        config={"architectures": ["DbrxForCausalLM"], "model_type": "dbrx"},
        note="ChatML turns with a long default system prompt; bos = eos = unk = <|endoftext|>, pad <|pad|>; NO FAMILY: "
        "its experts are 2-D parameters (`ffn.experts.mlp.w1/v1/w2`, n_experts x ffn_hidden rows), which day0's expert "
        "walk (3-D parameters) does not find, so the draft has neither `mlp` nor `moe` and the registry refuses it",
    ),
    "stablelm-zephyr": Release(
        hub="stabilityai/stablelm-zephyr-3b",
        checkpoints=({"hf": "stabilityai/stablelm-zephyr-3b", "size": "3B", "kind": "instruct"},),
        template="openvino:stabilityai/stablelm-zephyr-3b",
        config={"architectures": ["StableLmForCausalLM"], "model_type": "stablelm"},
        note="Zephyr's turn markers on StableLM, every turn ended by <|endoftext|>",
    ),
    "gpt-sw3": Release(
        hub="AI-Sweden-Models/gpt-sw3-356m-instruct",
        checkpoints=({"hf": "AI-Sweden-Models/gpt-sw3-356m-instruct", "size": "356M", "kind": "instruct"},),
        template="openvino:AI-Sweden-Models/gpt-sw3-356m-instruct",
        config={"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"},
        note="a GPT-2 class with a sentencepiece vocabulary; NO FAMILY: turns `User: ...<s>Bot: ...<s>` end on bos "
        "<s>, never on eos <|endoftext|> (day0 refuses: no end of turn after an answer)",
    ),
    "glm-edge": Release(
        hub="THUDM/glm-edge-4b-chat",
        checkpoints=(
            {
                "hf": "THUDM/glm-edge-4b-chat",
                "modelscope": "ZhipuAI/glm-edge-4b-chat",
                "size": "4B",
                "kind": "instruct",
            },
        ),
        template="openvino:THUDM/glm-edge-4b-chat",
        config={"architectures": ["GlmForCausalLM"], "model_type": "glm"},
        note="GlmForCausalLM as glm4-chat, with GLM-4's tokens but no [gMASK]<sop> prefix and no tools",
    ),
    "h2o-danube2": Release(
        hub="h2oai/h2o-danube2-1.8b-chat",
        checkpoints=({"hf": "h2oai/h2o-danube2-1.8b-chat", "size": "1.8B", "kind": "instruct"},),
        template="openvino:h2oai/h2o-danube2-1.8b-chat",
        config={"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32000},
        add_bos_token=True,
        note="vocab 32000: the Mistral v0.1 sentencepiece vocabulary the model card names (not in the reference data)",
    ),
    "solar": Release(
        hub="upstage/SOLAR-10.7B-Instruct-v1.0",
        checkpoints=({"hf": "upstage/SOLAR-10.7B-Instruct-v1.0", "size": "10.7B", "kind": "instruct"},),
        template="openvino:upstage/SOLAR-10.7B-Instruct-v1.0",
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000},
        add_bos_token=True,
        note="a depth-upscaled Llama-architecture model; vocab 32000 as the model card's Mistral-7B initialisation "
        "(not in the reference data); NO FAMILY: its template writes no end of turn after an answer "
        "(`'### Assistant:\\n' + content`, then the next `### User:`), which a chat format cannot express (the "
        "registry refuses the drafted format: slot `assistant` must hold end_of_turn '</s>')",
    ),
    "granite-code": Release(
        hub="ibm-granite/granite-8b-code-instruct",
        checkpoints=({"hf": "ibm-granite/granite-8b-code-instruct", "size": "8B", "kind": "instruct"},),
        template="openvino:ibm-granite/granite-8b-code-instruct",
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152},
        note="vocab 49152: the StarCoder vocabulary Granite Code reuses (the model card; not in the reference "
        "data); NO FAMILY: its template ends an answer on `\\n\\n`, never on eos <|endoftext|> (day0 refuses it)",
    ),
    "tinyllama": Release(
        hub="TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        checkpoints=({"hf": "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "size": "1.1B", "kind": "instruct"},),
        template="openvino:TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000},
        add_bos_token=True,
        note="Zephyr's template on a Llama-architecture model with Llama 2's tokenizer (vocab 32000, the model "
        "card); the same bos/eos and vocabulary as Llama 2, told apart by its template",
    ),
    "deepseek-r1": Release(
        hub="deepseek-ai/DeepSeek-R1",
        checkpoints=(
            {
                "hf": "deepseek-ai/DeepSeek-R1",
                "modelscope": "deepseek-ai/DeepSeek-R1",
                "size": "671B-A37B",
                "kind": "reasoning",
            },
        ),
        template="openvino:deepseek-ai/DeepSeek-R1",
        config={
            "architectures": ["DeepseekV3ForCausalLM"],
            "model_type": "deepseek_v3",
            "vocab_size": 129280,
        },
        add_bos_token=True,
        note="DeepSeek-V3's class and tokens with the R1 template (always reasons); vocab 129280 as deepseek-v3's",
    ),
    "mistral-v0.1": Release(
        hub="mistralai/Mistral-7B-Instruct-v0.1",
        checkpoints=(
            {
                "hf": "mistralai/Mistral-7B-Instruct-v0.1",
                "modelscope": None,
                "size": "7B",
                "kind": "instruct",
            },
        ),
        template="openvino:mistralai/Mistral-7B-Instruct-v0.1",
        config={"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32000},
        add_bos_token=True,
        note="v0.1's `[INST]` template (system text folded into the first question) on the 32000-token vocabulary "
        "(the model card); the same bos/eos as mistral (v0.3) and zephyr, told apart by its template",
    ),
    "llama3-0": Release(
        hub="meta-llama/Meta-Llama-3-8B-Instruct",
        checkpoints=(
            {
                "hf": "meta-llama/Meta-Llama-3-8B-Instruct",
                "modelscope": None,
                "size": "8B",
                "kind": "instruct",
            },
        ),
        template="openvino:meta-llama/Meta-Llama-3-8B-Instruct",
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256},
        add_bos_token=True,
        note="Llama 3.0: 3.1's class, vocabulary and tokens, a template without the date header and tools, and no "
        "pad (id 128004 is a reserved token); vocab 128256 as llama3's (llama.cpp's llama-bpe vectors)",
    ),
}


def _hfjs_case(reference: Path, name: str) -> dict[str, Any]:
    path = reference / HFJS_TABLE
    cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    for case in cases:
        if case["name"] == name:
            return case
    raise ConformanceError(f"no huggingface.js case {name!r}", where=Where(file=str(path)))


def assemble(reference: Path, family_id: str, out: Path) -> Path:
    """Write the release files of `family_id`'s entry to `out` (config, tokenizer_config, generation_config)."""
    if family_id not in RELEASES:
        raise ConformanceError(f"no release recorded for {family_id!r}", hint=f"one of {', '.join(RELEASES)}")
    rel = RELEASES[family_id]
    kind, _, rest = rel.template.partition(":")
    if kind == "vendor":
        out.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer_config.json", "generation_config.json"):
            if (reference / rest / name).is_file():
                shutil.copyfile(reference / rest / name, out / name)
        return out
    template: Any
    if kind == "openvino":
        entry = openvino_entry(reference, rest)
        tokens, template = {**entry, **rel.tokens}, entry.get("chat_template")
    elif kind == "hfjs":
        case = _hfjs_case(reference, rest)
        data = case["data"]
        tokens = {**{k: data[k] for k in ("bos_token", "eos_token") if k in data}, **rel.tokens}
        template = case["chat_template"]
    else:
        tokens, template = dict(rel.tokens), (reference / rel.template).read_text(encoding="utf-8")
    # No added_tokens_decoder or generation_config: the reference data has neither, and a partial one would
    # read as the release's own list (the review adds generation eos tokens the template ends replies on).
    return write_release(
        out, config=rel.config, tokens=tokens, chat_template=template, add_bos_token=rel.add_bos_token
    )


def main(argv: list[str] | None = None) -> None:
    """Assemble one release in a temporary folder and run `day0` on it."""
    import tempfile

    from .day0 import draft_and_check

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family_id", choices=sorted(RELEASES))
    parser.add_argument("--reference", type=Path, default=Path("../shared/reference"))
    parser.add_argument("--out", type=Path, default=Path("families"))
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    rel = RELEASES[args.family_id]
    with tempfile.TemporaryDirectory(prefix="dayzero-release-") as tmp:
        folder = assemble(args.reference, args.family_id, Path(tmp) / rel.hub.split("/")[1])
        gen = folder / "generation_config.json"
        result = draft_and_check(
            config=folder / "config.json",
            tokenizer_config=folder / "tokenizer_config.json",
            generation_config=gen if gen.is_file() else None,
            family_id=args.family_id,
            out_dir=args.out,
            report_dir=args.report,
            official=rel.official(),
            checkpoints=[dict(c) for c in rel.checkpoints],
        )
    for line in result.warnings:
        print(f"warning: {line}")
    print(f"wrote {result.family_path}" + (f" and {result.format_path}" if result.format_path else ""))
    blocking = [f"{c.id}={c.status.value}" for c in result.report.checks if c.blocking]
    print(
        f"report {result.report_path}: passed={result.report.passed}; blocking: {', '.join(blocking) or 'none'}"
    )


if __name__ == "__main__":
    main()
