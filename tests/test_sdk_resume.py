"""`--resume`: a run stopped after a checkpoint and resumed logs the same later losses as an uninterrupted run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dayzero import sdk
from dayzero.errors import RecipeError

pytestmark = pytest.mark.slow


def recipe(out: Path) -> dict[str, Any]:
    return {
        "name": "resume",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_sft"], "max_samples": 24, "cutoff_len": 256},
        "method": {"stage": "sft", "adapter": "lora", "r": 4, "alpha": 8, "dropout": 0.1},
        "train": {"max_steps": 6, "batch_size": 2, "learning_rate": 5e-3, "logging_steps": 1, "save_steps": 3,
                  "report_to": "none", "output_dir": str(out)},
        "export": {"enabled": False},
    }


def stop_after(step: int) -> Any:
    from transformers import TrainerCallback

    class Stop(TrainerCallback):  # an interruption right after the checkpoint at `step`
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if state.global_step == step:
                control.should_save = True
                control.should_training_stop = True
            return control

    return Stop()


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = sdk.run(recipe(tmp_path / "whole"), console=False)
    assert len(whole.losses) == 6

    cut = recipe(tmp_path / "cut")
    first = sdk.run(cut, callbacks=[stop_after(3)], console=False)
    assert first.metrics["global_step"] == 3
    assert (tmp_path / "cut" / "checkpoints" / "checkpoint-3").is_dir()
    with pytest.raises(RecipeError, match="--resume"):
        sdk.run(cut, console=False)  # a run directory with checkpoints is not silently overwritten

    resumed = sdk.run(cut, resume=True, console=False)
    assert resumed.metrics["global_step"] == 6
    assert resumed.losses[3:] == pytest.approx(whole.losses[3:], abs=1e-5)
    assert resumed.losses[:3] == pytest.approx(whole.losses[:3], abs=1e-5)


def test_overwrite_starts_the_run_again(tmp_path: Path) -> None:
    r = recipe(tmp_path / "run")
    r["train"]["max_steps"] = 2
    first = sdk.run(r, console=False)
    (tmp_path / "run" / "marker").write_text("not dayzero's")
    again = sdk.run(r, overwrite=True, console=False)
    assert (tmp_path / "run" / "marker").read_text() == "not dayzero's"  # only the run's own artifacts are removed
    assert again.losses == pytest.approx(first.losses, abs=1e-6)  # same seed, same data order: same losses
