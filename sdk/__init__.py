"""The dayzero SDK: recipes compile to plans; plans run data preparation, training, export, serving.

>>> from dayzero import sdk
>>> plan = sdk.compile("quickstart")          # a bundled recipe, a path, a dict or a Recipe
>>> print(plan.render())
>>> result = sdk.run("quickstart", overrides=["train.max_steps=5"])

Importing this package imports neither torch nor transformers; the functions do, when called.
`run` and `export` are imported eagerly (their modules are light) so that the submodules
`dayzero.sdk.run` / `dayzero.sdk.export` cannot shadow the functions of the same name.
"""

from __future__ import annotations

from pathlib import Path

from .compiler import compile
from .export import ExportReport, export_run
from .plan import Plan
from .recipe import LoadedRecipe, Recipe, load_recipe
from .run import RunResult, run

__all__ = [
    "ExportReport",
    "LoadedRecipe",
    "Plan",
    "Recipe",
    "RunResult",
    "compile",
    "export",
    "load_recipe",
    "run",
]


def export(
    run_dir: str | Path, *, out: str | Path | None = None, merge: bool | None = None, overwrite: bool = False
) -> ExportReport:
    """Export a finished run directory (merged weights or adapter-only), verified before it is renamed into place;
    `overwrite` lets it replace an earlier dayzero export at `out` (never a folder dayzero did not write)."""
    return export_run(run_dir, out=out, merge=merge, overwrite=overwrite)


def __dir__() -> list[str]:
    return sorted(__all__)


