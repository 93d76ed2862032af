"""What happens after training: quantization, export, serving, and library requirements."""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from .common import Strict


class OnTheFlyQuant(str, Enum):
    bnb_4bit = "bnb-4bit"
    bnb_8bit = "bnb-8bit"


class CheckpointQuant(str, Enum):
    gptq = "gptq"
    awq = "awq"
    fp8 = "fp8"
    mxfp4 = "mxfp4"


class Quantization(Strict):
    on_the_fly: list[OnTheFlyQuant] = Field(default_factory=list, description="Quantize-at-load methods that work.")
    checkpoint: list[CheckpointQuant] = Field(default_factory=list, description="Pre-quantized checkpoint formats.")
    skip_modules: list[str] = Field(
        default_factory=lambda: ["lm_head"],
        description="Modules bitsandbytes keeps in full precision (`llm_int8_skip_modules`): lm_head, MoE routers.",
    )
    not_quantized: list[str] = Field(
        default_factory=list,
        description="Weights bitsandbytes cannot quantize and leaves in full precision, as paths under a decoder "
        "layer (e.g. fused 3-D expert parameters, which are not nn.Linear in transformers 5). Checked on the "
        "tiny instance loaded in 4 bits.",
    )
    note: str | None = Field(
        default=None,
        description="Why on-the-fly quantization is partial or does not apply to this family; shown in plans and "
        "conformance reports.",
    )


class Export(Strict):
    mergeable: bool = Field(default=True, description="Whether a LoRA adapter can be merged into the base.")
    dtype: str = Field(default="bfloat16", description="dtype of the released weights; merged exports keep it.")
    files: list[str] = Field(
        default_factory=lambda: [
            "config.json",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "chat_template.jinja",
            "model.safetensors",
        ],
        description="Files an export must contain (`model.safetensors` also matches sharded weights).",
    )
    gguf_arch: str | None = Field(default=None, description="llama.cpp architecture name, if convertible to GGUF.")


class LoraServing(Strict):
    """What differs per family when vLLM serves its LoRA adapters (what holds for every family, such as
    the rank buckets or DoRA, is in the engine table, `families/engines.yaml`)."""

    packed_modules: dict[str, list[str]] = Field(
        default_factory=dict, description="vLLM's packed modules: fused name -> the names it packs."
    )


class Serving(Strict):
    vllm_architecture: str | None = Field(description="Architecture name in vLLM's model registry, or null.")
    tool_call_parser: str | None = Field(default=None, description="`vllm serve --tool-call-parser` value.")
    reasoning_parser: str | None = Field(default=None, description="`vllm serve --reasoning-parser` value.")
    lora: LoraServing = Field(default_factory=LoraServing)
    generation_eos: list[str] = Field(
        min_length=1, description="Tokens generation_config.json's eos_token_id must list."
    )


class Requirement(Strict):
    range: str = Field(description="PEP 440 specifier, e.g. `>=4.51`.")
    reason: str = Field(description="Why the bound exists.")
