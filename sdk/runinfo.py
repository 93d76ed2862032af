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


def plot_losses(losses: list[float], path: Path, title: str) -> None:
    """The training loss per logged step, as a PNG (matplotlib's Agg backend: no display needed)."""
    if not losses:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(losses) + 1), losses)
    ax.set_xlabel("logged step")
    ax.set_ylabel("loss")
    ax.set_title(title)
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
