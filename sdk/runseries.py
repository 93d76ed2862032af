"""What a run records per logged step beyond the training loss: eval losses and (online stages) rewards.

The trainer's log history (`logs/history.jsonl`, written by `run.train`) is the one source: TensorBoard
gets the same values from the trainer's callback, and run.json gets them from here, so `loss.png` and
the run report can draw the eval curve next to the training one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .plan import Plan


def eval_arguments(plan: Plan, eval_dataset: Any) -> dict[str, Any]:
    """Keyword arguments for `build_trainer`: the held-out rows, or eval turned off when there are none."""
    if plan.rl is not None:
        return {}
    if eval_dataset is None or len(eval_dataset) == 0:
        return {"eval_strategy": "no"} if plan.trainer.config.get("eval_strategy") else {}
    return {"eval_dataset": eval_dataset}


def history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "logs" / "history.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_series(run_dir: Path) -> dict[str, Any]:
    """`eval_losses` ([{step, loss}]) and, for GRPO, `rewards` ([{step, reward, reward_std}]) from the history."""
    out: dict[str, Any] = {}
    entries = history(run_dir)
    evals = [{"step": int(h["step"]), "loss": float(h["eval_loss"])} for h in entries if "eval_loss" in h]
    if evals:
        out["eval_losses"] = evals
    rewards = [
        {"step": int(h["step"]), "reward": float(h["reward"]), "reward_std": float(h.get("reward_std", 0.0))}
        for h in entries
        if "reward" in h
    ]
    if rewards:
        out["rewards"] = rewards
    return out
