"""The held-out split (`data.val_size`) reaches the trainer: eval loss every `eval_steps`, in TensorBoard and run.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dayzero import sdk

pytestmark = pytest.mark.slow


def test_eval_loss_is_recorded_and_is_the_held_out_loss(tmp_path: Path) -> None:
    recipe = {
        "name": "ev",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_sft"], "max_samples": 24, "cutoff_len": 256, "val_size": 4},
        "method": {"stage": "sft", "adapter": "lora", "r": 4},
        "train": {
            "max_steps": 4,
            "batch_size": 2,
            "eval_steps": 2,
            "learning_rate": 1e-2,
            "report_to": "tensorboard",
            "output_dir": str(tmp_path / "{name}"),
        },
        "export": {"enabled": False},
    }
    result = sdk.run(recipe, console=False)
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["data"]["eval_rows"] == 4
    evals = info["eval_losses"]
    assert [e["step"] for e in evals] == [2, 4] and all(math.isfinite(e["loss"]) for e in evals)

    # TensorBoard got the same curve.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(result.run_dir / "logs"))
    acc.Reload()
    assert "eval/loss" in acc.Tags()["scalars"]
    assert [e.step for e in acc.Scalars("eval/loss")] == [2, 4]

    # Independently: the trained model's mean token loss on the held-out rows, batch by batch as the
    # trainer batches them (2 rows), equals the last recorded eval loss.
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    from dayzero.sdk.data import DataConfig, prepare
    from dayzero.sdk.templates import ChatTemplate

    tok = AutoTokenizer.from_pretrained(str(result.run_dir / "final"))
    held = prepare(
        DataConfig(**recipe["data"]), stage="sft", template=ChatTemplate.for_tokenizer(tok), tokenizer=tok
    ).eval
    model = AutoPeftModelForCausalLM.from_pretrained(str(result.run_dir / "final")).eval()
    batch_means = []
    for start in range(0, len(held), 2):
        nll, count = 0.0, 0
        for row in held.select(range(start, min(start + 2, len(held)))):
            ids = torch.tensor([row["input_ids"]])
            labels = torch.tensor(row["labels"][1:])
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0, :-1]
            mask = labels != -100
            nll += float(torch.nn.functional.cross_entropy(logits[mask], labels[mask], reduction="sum"))
            count += int(mask.sum())
        batch_means.append(nll / count)
    assert sum(batch_means) / len(batch_means) == pytest.approx(evals[-1]["loss"], rel=1e-4)


def test_no_held_out_rows_no_evaluation(tmp_path: Path) -> None:
    plan = sdk.compile(
        {
            "model": {"id": "tiny:qwen2"},
            "data": {"datasets": ["demo_sft"]},
            "train": {"output_dir": str(tmp_path / "{name}")},
        },
        cuda=False,
    )
    assert "eval_strategy" not in plan.trainer.config
    with_val = sdk.compile(
        {
            "model": {"id": "tiny:qwen2"},
            "data": {"datasets": ["demo_sft"], "val_size": 0.1},
            "train": {"output_dir": str(tmp_path / "{name}"), "save_steps": 7},
        },
        cuda=False,
    )
    assert with_val.trainer.config["eval_strategy"] == "steps" and with_val.trainer.config["eval_steps"] == 7
