"""Run bookkeeping: run.json, library versions, the loss-curve PNG, the process rank."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text

LIBRARIES = ("dayzero", "torch", "transformers", "peft", "trl", "datasets", "accelerate", "tokenizers", "safetensors")


def rank() -> int:
    """This process's rank under torchrun/accelerate (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_run_json(run_dir: Path, info: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "run.json", json.dumps(info, indent=2, default=str) + "\n")


def read_run_json(run_dir: Path) -> dict[str, Any]:
    from dayzero.errors import ExportError, Where
    from dayzero.yamlio import read_json_object

    path = run_dir / "run.json"
    if not path.is_file():
        raise ExportError("not a run directory: no run.json", where=Where(file=str(path)))
    return read_json_object(path, ExportError)


def loss_curves(history: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """(optimizer steps, values) of the training loss and, when evaluation ran, the eval loss, from the
    trainer's log history (each entry carries the global `step` it was logged at)."""
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for key, name in (("loss", "train"), ("eval_loss", "eval")):
        points = [(int(h["step"]), float(h[key])) for h in history if key in h and "step" in h]
        if points:
            curves[name] = ([p[0] for p in points], [p[1] for p in points])
    return curves


def plot_losses(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """The training (and eval) loss against the optimizer step, as a PNG (matplotlib's Agg backend)."""
    curves = loss_curves(history)
    if not curves:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, (steps, values) in curves.items():
        ax.plot(steps, values, label=name, marker="o" if name == "eval" else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


@contextmanager
def quiet_library_deprecations() -> Iterator[None]:
    """Hide deprecation warnings that libraries raise about their own calls to each other (peft asking
    transformers for `is_gradient_checkpointing` on every wrap): nothing a recipe author can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
