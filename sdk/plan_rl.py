"""The online-RL part of a Plan: how rollouts are generated, which rewards score them, what code runs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RewardPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    weight: float
    params: dict[str, Any] = Field(
        default_factory=dict, description="The spec's own fields (column, pattern...)."
    )
    model_dir: str | None = Field(default=None, description="reward_model: the classifier that scores.")


class RLPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generation: str = Field(description="hf | vllm-colocate | vllm-server.")
    generation_note: str = Field(description="What generates the rollouts, in words.")
    reference_model: str = Field(description="What the KL term compares against (none when beta is 0).")
    rewards: list[RewardPlan]
    user_code: list[str] = Field(
        default_factory=list,
        description="Python reward functions the run will import and call (recipe-named only).",
    )
    code_dir: str | None = Field(
        default=None, description="Folder put first on the import path for `user_code` (the recipe's folder)."
    )
    columns: list[str] = Field(default_factory=list, description="Raw data columns carried to the rewards.")

    def render_lines(self) -> list[str]:
        rewards = ", ".join(f"{r.name} x{r.weight:g}" for r in self.rewards)
        lines = [
            f"  rollouts  {self.generation_note}; reference: {self.reference_model}",
            f"  rewards   {rewards}",
        ]
        lines += [f"  code      runs {path} (named in the recipe)" for path in self.user_code]
        return lines
