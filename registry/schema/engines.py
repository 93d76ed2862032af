"""The engine table (`families/engines.yaml`): serving-engine facts that hold for every family.

A fact such as "vLLM does not serve DoRA adapters" is a property of the engine at a version, not of
Qwen or Llama; it is written once here with the version range it was read for, and every family's
lint reads it from here (the family files keep only what differs per family).
"""

from __future__ import annotations

from pydantic import Field

from .common import Strict


class VllmLora(Strict):
    """What vLLM's LoRA loader accepts, for every model it implements."""

    max_rank_buckets: list[int] = Field(min_length=1, description="Values `--max-lora-rank` accepts.")
    peft_types: list[str] = Field(description="PEFT `peft_type` values vLLM loads as LoRA.")
    dora: bool = Field(description="Whether DoRA adapters (use_dora) are served.")
    lora_bias: bool = Field(description="Whether adapters with LoRA bias are served.")
    modules_to_save: list[str] = Field(
        default_factory=list, description="The only `modules_to_save` names vLLM accepts (none: no module)."
    )
    added_tokens: bool = Field(description="Whether adapters that add tokens to the vocabulary are served.")
    target_parameters: bool = Field(
        description="Whether LoRA on fused parameters (peft target_parameters) loads."
    )
    init_lora_weights: list[bool | str] = Field(
        description="`init_lora_weights` values whose saved adapter is a plain LoRA (PiSSA-style inits are not)."
    )


class VllmTokenizerMode(Strict):
    """A `--tokenizer-mode` other than vLLM's default, and when a family's checkpoint needs it."""

    files: list[str] = Field(
        min_length=1, description="Glob patterns of the tokenizer files this mode reads."
    )
    families: list[str] = Field(
        min_length=1,
        description="Families whose checkpoints may ship their tokenizer only in this mode's files.",
    )


class VllmEngine(Strict):
    versions: str = Field(description="PEP 440 range of vLLM versions these facts were read for.")
    read_from: str = Field(description="Where in vLLM's source the facts come from.")
    lora: VllmLora
    cpu_head_dims: list[int] = Field(description="Head sizes vLLM's CPU attention backend supports.")
    tokenizer_modes: dict[str, VllmTokenizerMode] = Field(
        default_factory=dict,
        description="`--tokenizer-mode` values the command builder passes: a listed family's model directory that "
        "ships the mode's files and no `tokenizer.json` (the HF tokenizer dayzero trains with) gets the mode.",
    )


class GgufArchitecture(Strict):
    """How llama.cpp's converter lays out one architecture's weights."""

    permute_qk: bool = Field(default=False, description="q/k projections permuted for GGML's rotary layout.")
    norm_offset: float = Field(
        default=0.0, description="Added to every `*norm.weight` (Gemma: RMSNorm scales by 1 + w)."
    )
    softcapping: bool = Field(
        default=False, description="Attention and final logit soft-capping are written."
    )


class GgufEngine(Strict):
    versions: str = Field(description="PEP 440 range of the `gguf` package these facts were read for.")
    read_from: str
    architectures: dict[str, GgufArchitecture] = Field(description="GGUF architecture name -> layout facts.")
    tolerance: dict[str, float] = Field(
        description="File type -> largest |logit| difference from the safetensors export, relative to its largest |logit|."
    )


class EngineTable(Strict):
    vllm: VllmEngine
    gguf: GgufEngine
