"""The `method:` section: the training stage, the adapter and its parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .common import Section

Stage = Literal["pt", "sft", "rm", "dpo", "kto", "orpo", "simpo", "grpo", "ppo"]
Adapter = Literal["lora", "dora", "rslora", "pissa", "oft", "freeze", "full", "qlora"]
TargetPreset = Literal["attention", "mlp", "all-linear"]

# Adapters that train through peft's LoRA layers (and so take `r`, `alpha`, `dropout`, `target`).
LORA_KINDS = ("lora", "dora", "rslora", "pissa", "qlora")


class MethodSection(Section):
    stage: Stage = Field(
        default="sft",
        description="pt (plain-text causal LM) | sft | rm (reward model) | dpo | kto | orpo | simpo (CPO with "
        "the SimPO loss) | grpo (online RL with the `rl:` section's rewards) | ppo (refused: TRL 1.16 has no PPO).",
    )
    adapter: Adapter = Field(
        default="lora",
        description="lora | dora | rslora | pissa | oft | freeze (train the last layers only) | full | qlora "
        "(LoRA on a 4-bit bitsandbytes base; runs wherever bitsandbytes does, CPU included, slowly there).",
    )
    r: int = Field(default=8, ge=1, description="LoRA rank (OFT: number of blocks when `oft_block_size` is 0).")
    alpha: float = Field(default=16, gt=0, description="LoRA scaling numerator (`lora_alpha`).")
    dropout: float = Field(default=0.0, ge=0, lt=1, description="Dropout on the adapter's input.")
    target: TargetPreset | list[str] = Field(
        default="all-linear",
        description="Modules that get the adapter: a preset from the family's `architecture.lora` "
        "(attention | mlp | all-linear) or a list of module leaf names, checked against the architecture.",
    )
    oft_block_size: int = Field(default=0, ge=0, description="OFT block size (0: derive it from `r`).")
    freeze_vision: bool | None = Field(
        default=None, description="Vision-language families: freeze the vision tower (default: the family's "
        "`vision.freeze_vision`). Full fine-tuning only; LoRA stays in the language model.",
    )
    freeze_projector: bool | None = Field(
        default=None, description="Vision-language families: freeze the vision-to-text projector (default: the "
        "family's `vision.freeze_projector`).",
    )
    trainable_layers: int = Field(
        default=1, ge=1, description="`freeze`: how many of the last decoder layers are trained."
    )
    quantization: Literal["none", "bnb-4bit", "bnb-8bit"] = Field(
        default="none", description="Quantize the base at load (bitsandbytes). `qlora` implies bnb-4bit."
    )
    quant_type: Literal["nf4", "fp4"] = Field(
        default="nf4", description="4-bit data type (`bnb_4bit_quant_type`): nf4 (QLoRA's NormalFloat) or fp4."
    )
    double_quant: bool = Field(
        default=True, description="Quantize the 4-bit quantization constants too (`bnb_4bit_use_double_quant`)."
    )
    compute_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="dtype the 4-bit layers compute in (`bnb_4bit_compute_dtype`); auto: bfloat16 on CUDA, float32 on CPU.",
    )
    beta: float | None = Field(
        default=None, gt=0, description="Preference strength (DPO/KTO beta, ORPO lambda, SimPO beta), GRPO's KL coefficient "
        "(0: no reference model); TRL's default if unset."
    )
    simpo_gamma: float = Field(default=0.5, ge=0, description="SimPO target reward margin.")
    thinking: Literal["off", "on", "keep"] | None = Field(
        default=None,
        description="Reasoning blocks in training data: off (strip), on (train them), keep (as in the data). "
        "Only for families whose template has a reasoning mode.",
    )

    @field_validator("thinking", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        # YAML 1.1 reads a bare `on` / `off` as a boolean; the recipe means the words.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    @field_validator("target")
    @classmethod
    def _names_non_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("`target` list is empty: name at least one module or use a preset")
        return value

    @model_validator(mode="after")
    def _qlora_is_4bit(self) -> MethodSection:
        if self.adapter == "qlora":
            if self.quantization == "bnb-8bit":
                raise ValueError("`adapter: qlora` quantizes to 4 bits; `quantization: bnb-8bit` contradicts it")
            self.quantization = "bnb-4bit"
        return self

    @property
    def uses_lora(self) -> bool:
        return self.adapter in LORA_KINDS
