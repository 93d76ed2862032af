"""Reading a recipe: bundled names, `extends:`, `key=value` overrides, validation with file:line:field errors.

`extends: base.yaml` deep-merges the child over its parent (mappings merge key by key; lists and scalars
replace). Overrides are dotted paths whose values are parsed as YAML scalars (`train.max_steps=5`,
`method.target=[q_proj,v_proj]`). Errors point into the file that holds the bad value where one does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dayzero.errors import RecipeError, Where
from dayzero.yamlio import parse_yaml, read_text, validate

from .schema import Recipe

MAX_EXTENDS_DEPTH = 8


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe and where it came from (relative data paths resolve against `base_dir`)."""

    recipe: Recipe
    path: Path | None
    base_dir: Path
    raw: dict[str, Any]
    overrides: tuple[str, ...] = ()  # the `key=value` items applied, in order (a launcher passes them on)


def bundled_dir() -> Path:
    """The recipes shipped inside the package (`dayzero run quickstart` finds `quickstart.yaml` there)."""
    return Path(str(resources.files("dayzero.recipes")))


def find_recipe(name: str | Path) -> Path:
    """A recipe path: an existing file, or the name of a bundled recipe (with or without `.yaml`)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    bundled = bundled_dir() / f"{stem}.yaml"
    if path.parent in (Path("."), Path("recipes")) and bundled.is_file():
        return bundled
    known = ", ".join(sorted(p.stem for p in bundled_dir().glob("*.yaml")))
    raise RecipeError(f"no recipe file {str(name)!r}", hint=f"bundled recipes: {known}")


def load_recipe(
    source: str | Path | dict[str, Any] | Recipe | LoadedRecipe, overrides: list[str] | tuple[str, ...] = ()
) -> LoadedRecipe:
    """Read, merge (`extends`), override and validate a recipe from a path, a bundled name, a dict or a Recipe."""
    if isinstance(source, LoadedRecipe) and not overrides:
        return source
    if isinstance(source, LoadedRecipe | Recipe):
        recipe = source.recipe if isinstance(source, LoadedRecipe) else source
        loaded = load_recipe(recipe.model_dump(mode="json", exclude_unset=True), overrides)
        if isinstance(source, LoadedRecipe):
            return LoadedRecipe(recipe=loaded.recipe, path=source.path, base_dir=source.base_dir, raw=loaded.raw,
                                overrides=(*source.overrides, *overrides))
        return loaded
    if isinstance(source, dict):
        data = copy.deepcopy(source)
        path, text, base_dir = None, None, Path.cwd()
        if "extends" in data:
            raise RecipeError("`extends` needs a recipe file to resolve against", where=Where(field="extends"))
    else:
        path = find_recipe(source)
        data, text = _read_with_extends(path, depth=0)
        base_dir = path.parent
    for item in overrides:
        _apply_override(data, item)
    label = str(path) if path else "<recipe>"
    if not isinstance(data, dict):
        raise RecipeError("a recipe is a mapping of sections", where=Where(file=label))
    try:
        recipe = validate(Recipe, data, source=label, text=text, error=RecipeError)
    except RecipeError as exc:
        overridden = [item.partition("=")[0].strip() for item in overrides]
        field = exc.where.field if exc.where else None
        if field and any(field == key or field.startswith(key + ".") for key in overridden):
            # The bad value came from the command line, not from a line of the file.
            raise RecipeError(exc.message, where=Where(file="override", field=field), hint=exc.hint) from None
        raise
    return LoadedRecipe(recipe=recipe, path=path, base_dir=base_dir, raw=data, overrides=tuple(overrides))


def _read_with_extends(path: Path, depth: int) -> tuple[dict[str, Any], str]:
    if depth > MAX_EXTENDS_DEPTH:
        raise RecipeError(f"`extends` chain deeper than {MAX_EXTENDS_DEPTH} (a cycle?)", where=Where(file=str(path)))
    text = read_text(path, RecipeError)
    data = parse_yaml(text, str(path), RecipeError)
    if not isinstance(data, dict):
        raise RecipeError("a recipe is a mapping of sections", where=Where(file=str(path), line=1))
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data, text
    if not isinstance(parent_ref, str):
        raise RecipeError("`extends` must be a file name", where=Where(file=str(path), field="extends"))
    parent_path = path.parent / parent_ref
    if not parent_path.is_file():
        parent_path = find_recipe(parent_ref)
    parent, _ = _read_with_extends(parent_path, depth + 1)
    return deep_merge(parent, data), text


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _apply_override(data: dict[str, Any], item: str) -> None:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"override {item!r} is not `key=value`", hint="e.g. `train.max_steps=5`")
    value = parse_yaml(raw, f"override {key}", RecipeError) if raw.strip() else None
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"override {item!r}: `{part}` is not a section", where=Where(field=key))
        node = child
    node[parts[-1]] = value
