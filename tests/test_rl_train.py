"""GRPO on tiny models: the toy task is learnt, and every reward kind, LoRA and full, KL, export and serve run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dayzero import sdk

pytestmark = pytest.mark.slow


def test_grpo_learns_the_toy_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled quickstart-grpo: a random tiny model learns to answer with a number.

    At the start about 1 in 8 completions starts with a digit (the share of digit tokens in the tiny
    vocabulary); the test asks the mean reward of the last fifth of the steps to beat the first fifth's
    by 0.3 (measured: about 0.15 -> 1.0). With learning off (`train.learning_rate=1e-9`) the same
    measurement gave 0.12 -> 0.10, and the test fails.
    """
    result = sdk.run(
        "quickstart-grpo",
        overrides=["export.enabled=false", "train.report_to=none", f"train.output_dir={tmp_path}/{{name}}"],
        console=False,
    )
    info = json.loads((result.run_dir / "run.json").read_text())
    rewards = [r["reward"] for r in info["rewards"]]
    assert len(rewards) == info["metrics"]["global_step"] == 40
    fifth = len(rewards) // 5
    first, last = sum(rewards[:fifth]) / fifth, sum(rewards[-fifth:]) / fifth
    assert last > first + 0.3, (first, last, rewards)
    assert info["plan"]["rl"]["rewards"][0]["name"] == "number_format"

    # `dayzero eval RUN --base`: on the held-out prompts (val_size 8) the trained model answers with a
    # number, greedily, far more often than the random base it started from.
    from dayzero.sdk.evaluate import evaluate

    report = evaluate(result.run_dir, base=True, max_new_tokens=6)
    assert report.prompts == 8 and report.data == "held-out split of the run"
    assert report.base is not None
    after, before = report.model.metrics["reward/number_format"], report.base.metrics["reward/number_format"]
    assert after is not None and before is not None and after >= before + 0.5, (before, after)
    assert set(report.model.metrics) >= {"exact_match", "rougeL", "bleu", "reward/exact_match"}
    saved = json.loads((result.run_dir / "eval" / "eval.json").read_text())
    assert saved["delta"]["reward/number_format"] == pytest.approx(after - before)
    assert json.loads((result.run_dir / "run.json").read_text())["eval"]["metrics"] == report.model.metrics

    # The command line, on a MODEL directory with a dataset: JSON out, eval.json where --out says.
    from dayzero.cli import main

    out = tmp_path / "model-eval"
    capsys.readouterr()  # drop what training printed
    main(
        [
            "eval",
            str(result.run_dir / "final"),
            "--data",
            "demo_prompts",
            "--limit",
            "3",
            "--out",
            str(out),
            "--reward",
            r"regex=^-?\d",
            "--json",
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["prompts"] == 3 and printed["metrics"]["reward/regex"] is not None
    assert json.loads((out / "eval.json").read_text())["metrics"] == printed["metrics"]


@pytest.fixture(scope="module")
def rm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny reward model (a dayzero `rm` run, exported), shared by the tests of this module."""
    tmp_path = tmp_path_factory.mktemp("rm")
    recipe = {
        "name": "rm",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_preference"], "max_samples": 8, "cutoff_len": 128},
        "method": {"stage": "rm", "adapter": "lora", "r": 4},
        "train": {
            "max_steps": 2,
            "batch_size": 2,
            "report_to": "none",
            "output_dir": str(tmp_path / "{name}"),
        },
        "export": {"enabled": True},
    }
    return sdk.run(recipe, console=False).run_dir


@pytest.mark.parametrize("adapter", ["lora", "full"])
def test_grpo_with_every_reward_kind_kl_export_and_serve(tmp_path: Path, adapter: str, rm_run: Path) -> None:
    rm_dir = rm_run
    data = tmp_path / "gold.jsonl"
    data.write_text(
        "".join(
            json.dumps({"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}], "gold": str(2 * i)})
            + "\n"
            for i in range(8)
        )
    )
    module = f"my_rewards_{adapter}"  # a module name per test: Python caches imported modules
    (tmp_path / f"{module}.py").write_text(
        "import json\n"
        "def seen(prompts, completions, completion_ids, gold, **kw):\n"
        f"    open({str(tmp_path / 'seen.json')!r}, 'w').write(json.dumps({{'prompt': prompts[0], 'gold': gold}}))\n"
        "    return [float(len(ids)) / 8 for ids in completion_ids]\n"
    )
    recipe = {
        "name": f"grpo-{adapter}",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": [{"path": str(data), "kind": "prompt"}], "cutoff_len": 128},
        "method": {"stage": "grpo", "adapter": adapter, "r": 4, "beta": 0.05},
        "rl": {
            "rewards": [
                {"kind": "exact_match", "column": "gold"},
                {"kind": "contains", "column": "gold"},
                {"kind": "regex", "pattern": r"\d"},
                {"kind": "json_valid", "weight": 0.5},
                {"kind": "length", "max_tokens": 3},
                {"kind": "reward_model", "run": str(rm_dir), "weight": 0.1},
                {"kind": "python", "function": f"{module}:seen", "name": "seen"},
            ],
            "num_generations": 2,
            "max_completion_length": 4,
        },
        "train": {
            "max_steps": 2,
            "batch_size": 4,
            "report_to": "none",
            "output_dir": str(tmp_path / "{name}"),
        },
        "sample": {"prompt": "What is 2 + 2?", "max_new_tokens": 4},
    }
    recipe_path = tmp_path / "grpo.yaml"
    import yaml

    recipe_path.write_text(yaml.safe_dump(recipe))
    result = sdk.run(recipe_path, console=False)
    assert result.metrics["global_step"] == 2
    history = [
        json.loads(line) for line in (result.run_dir / "logs" / "history.jsonl").read_text().splitlines()
    ]
    step = next(h for h in history if "reward" in h)
    for name in ("exact_match", "contains", "regex", "json_valid", "length", "reward_model", "seen"):
        assert f"rewards/{name}/mean" in step, name
    assert "kl" in step  # beta > 0: the KL term against the reference is computed
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["prompt"].startswith("<|im_start|>system\n") and seen["prompt"].endswith(
        "<|im_start|>assistant\n"
    )
    assert set(seen["gold"]) <= {str(2 * i) for i in range(8)}  # the data's own column reached the reward
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["status"] == "done" and info["export"]["max_logit_diff"] <= 1e-5
    config = json.loads((result.run_dir / "export" / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert result.sample is not None  # served on loopback through the OpenAI API


def test_grpo_rollouts_see_the_thinking_switch_and_tools(tmp_path: Path) -> None:
    """Qwen3 with thinking off: the rollout prompt ends with the empty think block the template writes."""
    (tmp_path / "seen_prompts.py").write_text(
        "import json\n"
        "def seen(prompts, completions, **kw):\n"
        f"    open({str(tmp_path / 'prompts.json')!r}, 'w').write(json.dumps(prompts))\n"
        "    return [0.0] * len(completions)\n"
    )
    data = tmp_path / "tools.jsonl"
    tool = {
        "type": "function",
        "function": {"name": "add", "description": "Add.", "parameters": {"type": "object"}},
    }
    data.write_text(
        "".join(
            json.dumps({"prompt": [{"role": "user", "content": f"Add {i} and {i}."}], "tools": [tool]}) + "\n"
            for i in range(4)
        )
    )
    recipe = {
        "name": "think",
        "model": {"id": "tiny:qwen3"},
        "data": {"datasets": [{"path": str(data), "kind": "prompt"}]},
        "method": {"stage": "grpo", "adapter": "lora", "r": 4, "thinking": "off"},
        "rl": {
            "rewards": [{"kind": "think_format"}, {"kind": "python", "function": "seen_prompts:seen"}],
            "num_generations": 2,
            "max_completion_length": 4,
        },
        "train": {
            "max_steps": 1,
            "batch_size": 4,
            "report_to": "none",
            "output_dir": str(tmp_path / "{name}"),
        },
        "export": {"enabled": False},
    }
    recipe_path = tmp_path / "think.yaml"
    import yaml

    recipe_path.write_text(yaml.safe_dump(recipe))
    sdk.run(recipe_path, console=False)
    prompts = json.loads((tmp_path / "prompts.json").read_text())
    assert all(p.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") for p in prompts)
    assert all(
        "<tools>" in p and '"name": "add"' in p for p in prompts
    )  # Qwen3's tools block in the system turn


def test_reward_model_scores_the_ids_the_rm_stage_trained_on(rm_run: Path) -> None:
    """The reward of a completion is the rm's logit on the same token ids its training rows had."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from dayzero.sdk.data import DataConfig, prepare
    from dayzero.sdk.rewards import RewardModelReward, reward_model_dir
    from dayzero.sdk.templates import ChatTemplate

    export = reward_model_dir(str(rm_run), None)
    assert export == rm_run / "export"
    tok = AutoTokenizer.from_pretrained(str(export))
    template = ChatTemplate.for_tokenizer(tok)
    rows = prepare(
        DataConfig(datasets=["demo_preference"], max_samples=1), stage="rm", template=template, tokenizer=tok
    )
    chosen_ids = rows.train[0]["chosen_ids"]
    model = AutoModelForSequenceClassification.from_pretrained(str(export)).eval()
    with torch.no_grad():
        expected = float(model(input_ids=torch.tensor([chosen_ids])).logits[0, 0])
    raw = json.loads(
        Path(sdk.__file__)
        .parents[1]
        .joinpath("recipes", "data", "preference_demo.jsonl")
        .read_text()
        .splitlines()[0]
    )
    reward = RewardModelReward(export, template, thinking=None)
    got = reward(
        prompts=["(unused)"], completions=[raw["chosen"][-1]["content"]], messages=[json.dumps(raw["prompt"])]
    )
    assert got[0] == pytest.approx(expected, abs=1e-5)
