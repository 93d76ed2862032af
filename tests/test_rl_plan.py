"""The online stages at compile time: GRPO's plan and TRL arguments, and the refusals (ppo, vLLM on CPU, ...)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from dayzero import sdk
from dayzero.errors import RecipeError


def grpo_recipe(tmp_path: Path, **rl: Any) -> dict[str, Any]:
    return {
        "name": "grpo",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_prompts"], "max_samples": 16},
        "method": {"stage": "grpo", "adapter": "lora", "r": 4},
        "rl": {"rewards": [{"kind": "exact_match"}], "num_generations": 4, **rl},
        "train": {
            "max_steps": 2,
            "batch_size": 4,
            "report_to": "none",
            "output_dir": str(tmp_path / "{name}"),
        },
        "export": {"enabled": False},
    }


def test_grpo_plan_uses_trls_names(tmp_path: Path) -> None:
    r = grpo_recipe(
        tmp_path,
        rewards=[{"kind": "exact_match", "weight": 2.0}, {"kind": "regex", "pattern": r"^\d", "weight": 0.5}],
        epsilon=0.3,
        epsilon_high=0.28,
        num_iterations=2,
        loss_type="grpo",
        max_completion_length=16,
        trl={"top_k": 5},
    )
    r["method"]["beta"] = 0.04
    plan = sdk.compile(r, cuda=False)
    assert (plan.trainer.module, plan.trainer.trainer, plan.trainer.config_class) == (
        "trl",
        "GRPOTrainer",
        "GRPOConfig",
    )
    c = plan.trainer.config
    assert c["reward_weights"] == [2.0, 0.5] and c["beta"] == 0.04 and c["num_generations"] == 4
    assert (c["epsilon"], c["epsilon_high"], c["num_iterations"], c["loss_type"]) == (0.3, 0.28, 2, "grpo")
    assert c["max_completion_length"] == 16 and c["top_k"] == 5 and c["use_vllm"] is False
    # every argument the plan gives GRPOConfig is one of its fields (TRL's own names)
    from trl import GRPOConfig

    fields = GRPOConfig.__dataclass_fields__
    assert {k for k in c if k not in fields} <= {"max_length"}  # the common arguments GRPO has no use for
    assert plan.rl is not None and [p.name for p in plan.rl.rewards] == ["exact_match", "regex"]
    assert "adapter disabled" not in plan.rl.reference_model and "KL beta 0.04" in plan.rl.reference_model
    text = plan.render()
    assert "rollouts  transformers generate in the trainer on cpu, 4 per prompt" in text
    assert "rewards   exact_match x2, regex x0.5" in text


def test_ppo_is_refused_because_trl_has_no_ppo_trainer(tmp_path: Path) -> None:
    # The fact the refusal rests on, checked independently: TRL 1.16 ships no PPO anywhere.
    assert importlib.util.find_spec("trl.experimental.ppo") is None
    import trl

    assert not hasattr(trl, "PPOTrainer")
    r = grpo_recipe(tmp_path)
    r["method"]["stage"] = "ppo"
    with pytest.raises(
        RecipeError, match=r"\[method.stage\] `ppo` needs TRL's PPOTrainer.*Use `stage: grpo`"
    ):
        sdk.compile(r, cuda=False)


def test_vllm_rollouts_are_refused_on_cpu(tmp_path: Path) -> None:
    for generation in ("vllm-colocate", "vllm-server"):
        with pytest.raises(RecipeError, match=r"\[R001\] vLLM rollouts need a CUDA GPU"):
            sdk.compile(grpo_recipe(tmp_path, generation=generation), cuda=False)


def test_vllm_rollouts_are_planned_on_a_gpu(tmp_path: Path) -> None:
    r = grpo_recipe(tmp_path, generation="vllm-server", vllm_server_base_url="http://10.0.0.2:8000")
    if importlib.util.find_spec("vllm") is None:  # this environment: the plan says what is missing
        with pytest.raises(RecipeError, match=r"\[rl.generation\] `vllm-server` needs the vllm package"):
            sdk.compile(r, cuda=True)
        return
    plan = sdk.compile(r, cuda=True)
    assert plan.trainer.config["vllm_mode"] == "server"
    assert plan.trainer.config["vllm_server_base_url"] == "http://10.0.0.2:8000"


def test_qlora_grpo_composes_on_a_gpu_plan(tmp_path: Path) -> None:
    r = grpo_recipe(tmp_path)
    r["method"]["adapter"] = "qlora"
    r["export"] = {"enabled": True, "merge": False}
    plan = sdk.compile(r, cuda=True)
    assert plan.adapter.quantization and plan.adapter.quantization["load_in_4bit"] is True
    assert plan.trainer.trainer == "GRPOTrainer" and plan.trainer.config["bf16"] is True
    cpu = sdk.compile(r, cuda=False)  # QLoRA plans on CPU too: bitsandbytes' CPU path (rule Q002 checks it imports)
    assert cpu.adapter.quantization and cpu.adapter.quantization["load_in_4bit"] is True


def test_python_rewards_are_listed_and_not_imported_at_compile_time(tmp_path: Path, monkeypatch: Any) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "my_rewards.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\n\ndef score(prompts, completions, **kw):\n    return [1.0] * len(completions)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plan = sdk.compile(
        grpo_recipe(tmp_path, rewards=[{"kind": "python", "function": "my_rewards:score"}]), cuda=False
    )
    assert plan.rl is not None and plan.rl.user_code == ["my_rewards:score"]
    assert "code      runs my_rewards:score (named in the recipe)" in plan.render()
    assert not marker.exists()
    plain = sdk.compile(grpo_recipe(tmp_path), cuda=False)
    assert plain.rl is not None and plain.rl.user_code == [] and "code " not in plain.render()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rl": None}, r"\[rl\] `stage: grpo` needs an `rl:` section"),
        ({"method": {"stage": "sft"}}, r"\[rl\] the `rl:` section is for `stage: grpo`"),
        (
            {"train": {"batch_size": 3}},
            r"\[train.batch_size\] a generation batch .* groups of rl.num_generations=4",
        ),
        ({"rl": {"trl": {"no_such_arg": 1}}}, r"\[rl.trl.no_such_arg\] GRPOConfig has no argument"),
        (
            {"rl": {"trl": {"learning_rate": 1.0}}},
            r"\[rl.trl.learning_rate\] set through `train.learning_rate`",
        ),
        ({"rl": {"rewards": [{"kind": "python", "function": "not a path"}]}}, r"is not an import path"),
        (
            {"rl": {"rewards": [{"kind": "think_format"}]}},
            r"`think_format` needs reasoning delimiters; family qwen2",
        ),
        (
            {"rl": {"rewards": [{"kind": "reward_model", "run": "nowhere"}]}},
            r"neither a dayzero rm run nor a model",
        ),
        ({"data": {"datasets": ["demo_pretrain"]}}, r"\[M003\] online RL generates from prompts"),
        (
            {"rl": {"rewards": [{"kind": "contains", "column": "completion"}]}},
            r"\[rl.rewards.0.column\] `completion` is a name the trainer keeps",
        ),
    ],
)
def test_bad_online_recipes_name_the_field(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    r = grpo_recipe(tmp_path)
    for section, value in change.items():
        if value is None:
            r.pop(section)
        else:
            r[section] = {**r.get(section, {}), **value}
    with pytest.raises(RecipeError, match=message):
        sdk.compile(r, cuda=False)


@pytest.mark.parametrize(
    ("reward", "message"),
    [
        ({"kind": "regex"}, "a `regex` reward needs `pattern`"),
        ({"kind": "regex", "pattern": "("}, "`pattern` is not a regular expression"),
        ({"kind": "length"}, "needs `min_tokens`, `max_tokens` or both"),
        ({"kind": "length", "min_tokens": 5, "max_tokens": 2}, "is above `max_tokens`"),
        ({"kind": "json_valid", "column": "x"}, "`column` does not apply to a `json_valid` reward"),
        ({"kind": "python"}, "a `python` reward needs `function`"),
    ],
)
def test_reward_specs_are_validated_with_their_field(
    tmp_path: Path, reward: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecipeError, match=f"rl.rewards.0.*{message}"):
        sdk.compile(grpo_recipe(tmp_path, rewards=[reward]), cuda=False)
