"""The online stage: TRL's GRPOTrainer driven by the plan, on prompts the family template rendered.

Prompts reach TRL as text already rendered by dayzero's template (generation prompt, tools and the
thinking switch included; see `sdk.data.prompts`), so TRL applies no chat template of its own and the
policy samples from exactly the text a server would send it. The one change to TRL is how that text
becomes ids: TRL tokenizes plain-text prompts with the tokenizer's special tokens added, which would put
a second bos before a template that writes its own; here it is tokenized as the server tokenizes it
(`add_special_tokens=False`). Rollouts end on the family's end-of-turn ids (`generation_eos`), as served.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..plan import Plan


def stop_ids(plan: Plan, tokenizer: Any) -> list[int]:
    """The ids that end a completion: the family's end-of-turn and generation eos tokens."""
    from ..serve.hf_backend import token_ids

    return token_ids(
        tokenizer, list(dict.fromkeys([*plan.template.end_of_turn, *plan.template.generation_eos]))
    )


def grpo_trainer_class() -> type:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from trl import GRPOTrainer

    class TemplateGRPOTrainer(GRPOTrainer):  # type: ignore[misc, valid-type]
        def _tokenize_prompts(self, prompts: list[Any]) -> tuple[list[list[int]], None, dict[str, Any]]:
            if not all(isinstance(p, str) for p in prompts):  # conversational rows: TRL's own path
                return super()._tokenize_prompts(prompts)
            ids = self.processing_class(text=prompts, add_special_tokens=False)["input_ids"]
            return ids, None, {}

    return TemplateGRPOTrainer


def build_grpo_trainer(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    train_dataset: Any,
    output_dir: Path,
    *,
    eval_dataset: Any = None,
    callbacks: list[Any] | None = None,
    **config_extra: Any,
) -> Any:
    """The GRPO trainer with the plan's rewards, ready for `.train()`."""
    from ..recipe.rl import RewardSpec
    from ..rewards import build_rewards
    from ..training_data import training_template
    from .trainers import build_config

    assert plan.rl is not None, "a grpo plan has an `rl` part"
    family = plan.view.family  # as compile resolved it (checkpoint overrides applied)
    template, _ = training_template(plan, tokenizer)
    specs = [
        RewardSpec(kind=r.kind, weight=r.weight, name=r.name, **_spec_params(r)) for r in plan.rl.rewards
    ]
    rewards = build_rewards(
        specs,
        family=family,
        template=template,
        tokenizer=tokenizer,
        thinking=plan.template.thinking,
        code_dir=Path(plan.rl.code_dir) if plan.rl.code_dir else None,
        device=plan.runtime.get("device"),
    )
    ends = stop_ids(plan, tokenizer)
    if ends:
        model.generation_config.eos_token_id = ends
    args = build_config(plan, output_dir, **config_extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        return grpo_trainer_class()(
            model=model,
            reward_funcs=rewards,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            callbacks=callbacks,
        )


def _spec_params(reward: Any) -> dict[str, Any]:
    params = dict(reward.params)
    if reward.model_dir is not None:
        params["run"] = reward.model_dir  # resolved at compile time
    return params


def reward_history(log_history: list[dict[str, Any]]) -> list[float]:
    """The mean total reward of each logged step (TRL logs it as `reward`)."""
    return [float(h["reward"]) for h in log_history if "reward" in h]
