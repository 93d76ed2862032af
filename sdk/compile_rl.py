"""Compiling the online stages: the RL plan (rollouts, rewards, user code) and GRPO's config arguments.

`ppo` is a known stage that compiles to a refusal: TRL removed its PPOTrainer (huggingface/trl#7020,
after it had moved to `trl.experimental.ppo`), and the TRL dayzero pins (1.16) has none. GRPO's clipped
objective (`epsilon`, `num_iterations`) with group baselines is the online stage TRL maintains.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from dayzero.errors import RecipeError
from dayzero.registry.schema import Family

from .plan_rl import RewardPlan, RLPlan
from .recipe.load import LoadedRecipe
from .recipe.schema import Recipe

ONLINE_STAGES = ("grpo", "ppo")
# Columns TRL does not pass to reward functions, or that dayzero's prompt rows already use.
RESERVED_COLUMNS = ("prompt", "completion", "completion_ids", "messages", "tools")
GRPO_TRAINER: tuple[str, str, str, dict[str, Any]] = ("trl", "GRPOTrainer", "GRPOConfig", {})

# GRPOConfig arguments dayzero fills from other recipe fields: `rl.trl` may not set them.
_OWNED = {
    "learning_rate": "train.learning_rate",
    "per_device_train_batch_size": "train.batch_size",
    "gradient_accumulation_steps": "train.grad_accum",
    "max_steps": "train.max_steps",
    "seed": "train.seed",
    "output_dir": "train.output_dir",
    "beta": "method.beta",
    "reward_weights": "rl.rewards[].weight",
    "use_vllm": "rl.generation",
    "vllm_mode": "rl.generation",
    "bf16": "train.precision",
    "fp16": "train.precision",
    "use_cpu": "the machine",
    "report_to": "train.report_to",
}


def rl_plan(
    r: Recipe, loaded: LoadedRecipe, family: Family, cuda: bool, problems: list[str]
) -> RLPlan | None:
    """The RL plan of a grpo recipe (None for the offline stages); problems are appended, not raised."""
    stage = r.method.stage
    if stage not in ONLINE_STAGES:
        if r.rl is not None:
            problems.append(f"[rl] the `rl:` section is for `stage: grpo`; this recipe trains `{stage}`")
        return None
    if stage == "ppo":
        problems.append(
            "[method.stage] `ppo` needs TRL's PPOTrainer, which TRL has removed (huggingface/trl#7020); the "
            "installed TRL has none. Use `stage: grpo` (clipped policy gradient with group baselines: `rl.epsilon`, "
            "`rl.num_iterations`), with a `reward_model` reward for PPO's reward-model setup"
        )
        return None
    if r.rl is None:
        problems.append("[rl] `stage: grpo` needs an `rl:` section listing its rewards")
        return None
    rl = r.rl
    rewards, user_code = [], []
    for i, spec in enumerate(rl.rewards):
        params = spec.model_dump(exclude={"kind", "weight", "name"}, exclude_none=True)
        model_dir = None
        if spec.kind == "reward_model":
            from .rewards import reward_model_dir

            try:
                model_dir = str(
                    reward_model_dir(spec.run or "", loaded.base_dir, f"rl.rewards.{i}.run").resolve()
                )
            except RecipeError as exc:
                problems.append(f"[rl.rewards.{i}.run] {exc.message}")
        elif spec.kind == "python":
            from .rewards import check_import_path

            bad = check_import_path(spec.function or "")
            if bad:
                problems.append(f"[rl.rewards.{i}.function] {bad}")
            user_code.append(spec.function or "")
        elif spec.column in RESERVED_COLUMNS:
            problems.append(
                f"[rl.rewards.{i}.column] `{spec.column}` is a name the trainer keeps for itself; rename the data "
                "column (the row's own reply is already `reference`, the default)"
            )
        elif spec.kind == "think_format" and not (
            family.template.reasoning.open and family.template.reasoning.close
        ):
            problems.append(
                f"[rl.rewards.{i}] `think_format` needs reasoning delimiters; family {family.id} has none"
            )
        rewards.append(
            RewardPlan(
                name=spec.label, kind=spec.kind, weight=spec.weight, params=params, model_dir=model_dir
            )
        )
    names = [p.name for p in rewards]
    if len(set(names)) != len(names):
        problems.append(f"[rl.rewards] two rewards share a name ({names}); give them distinct `name`s")
    t = r.train
    if (t.batch_size * t.grad_accum) % rl.num_generations:
        problems.append(
            f"[train.batch_size] a generation batch ({t.batch_size} x {t.grad_accum} accumulation) must hold whole "
            f"groups of rl.num_generations={rl.num_generations} completions"
        )
    if rl.generation != "hf" and cuda and importlib.util.find_spec("vllm") is None:
        problems.append(
            f"[rl.generation] `{rl.generation}` needs the vllm package in the training environment"
        )
    if rl.trl:
        _check_trl_args(rl.trl, problems)
    beta = r.method.beta or 0.0
    if not beta:
        reference = "none (method.beta 0: no KL term, no reference model)"
    elif r.method.uses_lora or r.method.adapter == "oft":
        reference = f"a frozen copy of the starting adapter, i.e. the base for a fresh one (KL beta {beta:g})"
    else:
        reference = f"a frozen copy of the base (KL beta {beta:g})"
    columns = sorted({s.column for s in rl.rewards if s.column and s.column != "reference"})
    return RLPlan(
        generation=rl.generation,
        generation_note=_generation_note(r, cuda),
        reference_model=reference,
        rewards=rewards,
        user_code=user_code,
        columns=columns,
        code_dir=str(loaded.base_dir.resolve()) if user_code else None,
    )


def _generation_note(r: Recipe, cuda: bool) -> str:
    rl = r.rl
    assert rl is not None
    group = f"{rl.num_generations} per prompt, up to {rl.max_completion_length} tokens, temperature {rl.temperature:g}"
    if rl.generation == "hf":
        return f"transformers generate in the trainer on {'cuda' if cuda else 'cpu'}, {group}"
    if rl.generation == "vllm-colocate":
        return f"vLLM colocated in the training process (TRL use_vllm, vllm_mode=colocate), {group}"
    url = rl.vllm_server_base_url or "http://0.0.0.0:8000"
    return f"a vLLM server at {url} (TRL vllm_mode=server; start it with `trl vllm-serve --model <base>`), {group}"


def _check_trl_args(args: dict[str, Any], problems: list[str]) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from trl import GRPOConfig

    fields = GRPOConfig.__dataclass_fields__
    for key in args:
        if key in _OWNED:
            problems.append(f"[rl.trl.{key}] set through `{_OWNED[key]}`, not `rl.trl`")
        elif key not in fields:
            problems.append(f"[rl.trl.{key}] GRPOConfig has no argument `{key}`")


def grpo_config(r: Recipe) -> dict[str, Any]:
    """GRPOConfig arguments from the `rl:` section (TRL's names), added to the common trainer arguments."""
    rl = r.rl
    assert rl is not None
    config: dict[str, Any] = {
        "num_generations": rl.num_generations,
        "max_completion_length": rl.max_completion_length,
        "temperature": rl.temperature,
        "top_p": rl.top_p,
        "epsilon": rl.epsilon,
        "num_iterations": rl.num_iterations,
        "scale_rewards": rl.scale_rewards,
        "mask_truncated_completions": rl.mask_truncated_completions,
        "reward_weights": [s.weight for s in rl.rewards],
        "beta": r.method.beta or 0.0,
        "use_vllm": rl.generation != "hf",
        "log_completions": False,
    }
    if rl.epsilon_high is not None:
        config["epsilon_high"] = rl.epsilon_high
    if rl.loss_type is not None:
        config["loss_type"] = rl.loss_type
    if rl.generation == "vllm-colocate":
        config["vllm_mode"] = "colocate"
    elif rl.generation == "vllm-server":
        config["vllm_mode"] = "server"
        if rl.vllm_server_base_url:
            config["vllm_server_base_url"] = rl.vllm_server_base_url
    return config | dict(rl.trl)
