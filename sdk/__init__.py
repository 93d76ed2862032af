"""The dayzero SDK: recipes compile to plans; plans run data preparation, training, export, serving.

>>> from dayzero import sdk
>>> plan = sdk.compile("quickstart")          # a bundled recipe, a path, a dict or a Recipe
>>> print(plan.render())
>>> result = sdk.run("quickstart", overrides=["train.max_steps=5"])

Importing this package imports neither torch nor transformers; the functions do, when called.
The stages live in modules named for what they do (`runner`, `exporter`), so no module shares a
name with the function it defines.
"""

from __future__ import annotations

from .compiler import compile
from .exporter import ExportReport, export
from .plan import Plan
from .recipe import LoadedRecipe, Recipe, load_recipe
from .runner import RunResult, run

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


def __dir__() -> list[str]:
    return sorted(__all__)


