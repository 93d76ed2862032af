"""The `rl:` section: rollouts and rewards for the online stages (`grpo`; `ppo` is refused, see the compiler).

Knobs that TRL's `GRPOConfig` has keep TRL's names (`num_generations`, `max_completion_length`,
`epsilon`, `num_iterations`, `loss_type`, `scale_rewards`...), so TRL's documentation reads for them; the
KL coefficient is `method.beta` (TRL's `beta`). Anything else of `GRPOConfig` goes in `trl:` by its TRL
name and is checked against the config class when the recipe compiles.

Rewards are listed with weights (TRL's `reward_weights`). Built-in rule rewards score the completion's
final answer (the reasoning block split off with the family's delimiters); a `reward_model` reward
scores with a dayzero `rm` run; a `python` reward imports a function by its path, and only then: a
recipe that names no python reward runs no user code (the plan lists the code it will run).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .common import Section

RewardKind = Literal[
    "exact_match", "contains", "regex", "json_valid", "length", "think_format", "reward_model", "python"
]
Generation = Literal["hf", "vllm-colocate", "vllm-server"]

# Which fields each reward kind needs (the rest must be left unset).
REWARD_FIELDS: dict[str, tuple[str, ...]] = {
    "exact_match": ("column",),
    "contains": ("column",),
    "regex": ("pattern",),
    "json_valid": (),
    "length": ("min_tokens", "max_tokens"),
    "think_format": (),
    "reward_model": ("run",),
    "python": ("function",),
}
_OPTIONAL = ("column", "pattern", "min_tokens", "max_tokens", "run", "function")


class RewardSpec(Section):
    kind: RewardKind = Field(
        description="exact_match (answer == reference, after stripping whitespace) | contains (reference in answer) | "
        "regex (`pattern` found in the answer) | json_valid (the answer parses as JSON) | length (completion within "
        "`min_tokens`..`max_tokens` tokens) | think_format (a reasoning block, closed, then a non-empty answer; the "
        "family's delimiters) | reward_model (the score of a dayzero `rm` run) | python (a function by import path).",
    )
    weight: float = Field(default=1.0, description="Weight in the summed reward (TRL's `reward_weights`).")
    name: str | None = Field(default=None, description="Name in the logs (default: the kind).")
    column: str | None = Field(
        default=None,
        description="exact_match/contains: the data column holding the reference; default `reference`, the row's "
        "own reply (the last assistant turn, preference `chosen`, alpaca `output`).",
    )
    pattern: str | None = Field(
        default=None, description="regex: a Python regular expression searched in the answer."
    )
    min_tokens: int | None = Field(
        default=None, ge=0, description="length: fewest completion tokens for reward 1."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="length: most completion tokens for reward 1."
    )
    run: str | None = Field(
        default=None,
        description="reward_model: a dayzero `rm` run directory (its export) or an exported model dir.",
    )
    function: str | None = Field(
        default=None,
        description="python: `package.module:function` (or `package.module.function`), called as TRL calls reward "
        "functions: `f(prompts, completions, completion_ids, **columns) -> list[float]`.",
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> RewardSpec:
        needed = REWARD_FIELDS[self.kind]
        if self.kind == "length":
            if self.min_tokens is None and self.max_tokens is None:
                raise ValueError("a `length` reward needs `min_tokens`, `max_tokens` or both")
            if (
                self.min_tokens is not None
                and self.max_tokens is not None
                and self.min_tokens > self.max_tokens
            ):
                raise ValueError(
                    f"`min_tokens` ({self.min_tokens}) is above `max_tokens` ({self.max_tokens})"
                )
        elif self.kind not in ("exact_match", "contains"):
            missing = [f for f in needed if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a `{self.kind}` reward needs `{missing[0]}`")
        extra = [f for f in _OPTIONAL if f not in needed and getattr(self, f) is not None]
        if extra:
            raise ValueError(f"`{extra[0]}` does not apply to a `{self.kind}` reward")
        if self.pattern is not None:
            import re

            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a regular expression: {exc}") from None
        return self

    @property
    def label(self) -> str:
        return self.name or self.kind


class RLSection(Section):
    rewards: list[RewardSpec] = Field(min_length=1, description="Rewards, summed with their weights.")
    generation: Generation = Field(
        default="hf",
        description="How rollouts are generated: hf (transformers `generate` in the trainer; CPU or GPU) | "
        "vllm-colocate (vLLM in the training process, CUDA) | vllm-server (a `trl vllm-serve` server, CUDA).",
    )
    vllm_server_base_url: str | None = Field(default=None, description="vllm-server: the server's URL.")
    num_generations: int = Field(default=4, ge=2, description="Completions per prompt (the group of GRPO).")
    max_completion_length: int = Field(default=64, ge=1, description="Longest completion, in tokens.")
    temperature: float = Field(default=1.0, gt=0, description="Sampling temperature of the rollouts.")
    top_p: float = Field(default=1.0, gt=0, le=1)
    epsilon: float = Field(default=0.2, gt=0, description="Clipping range of the policy ratio.")
    epsilon_high: float | None = Field(
        default=None, gt=0, description="Upper clipping bound (DAPO); default epsilon."
    )
    num_iterations: int = Field(default=1, ge=1, description="Optimisation passes per generated batch (μ).")
    loss_type: str | None = Field(
        default=None, description="TRL's `loss_type` (grpo, dapo, dr_grpo, bnpo...); TRL's default."
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        default="group",
        description="Advantage scaling: by the group's std (GRPO), the batch's, or none (Dr. GRPO).",
    )
    mask_truncated_completions: bool = Field(
        default=False, description="Leave cut-off completions out of the loss."
    )
    trl: dict[str, Any] = Field(
        default_factory=dict,
        description="Further `GRPOConfig` arguments by their TRL names (checked at compile time).",
    )

    @model_validator(mode="after")
    def _server_url(self) -> RLSection:
        if self.vllm_server_base_url and self.generation != "vllm-server":
            raise ValueError("`vllm_server_base_url` applies to `generation: vllm-server`")
        return self
