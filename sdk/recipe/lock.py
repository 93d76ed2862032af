"""Recipe locks: `FILE.lock.json` pins what a recipe runs against, and compile checks every pin.

Pinned: the registry version, the family revision and content hash (a changed template or eos token
silently changes what training learns); the sha256 of the recipe file and of every `extends:` parent
(an edit to either goes unnoticed otherwise); the versions of the training libraries; and the base
model's hub revision (the commit the hub resolved when the lock was written, so a later push to the
model repo does not change the run; compile loads that commit). A mismatch is an error naming each pin,
unless `ignore_lock` is set.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text
from dayzero.errors import RecipeError, Where
from dayzero.registry import Registry
from dayzero.registry.schema import Family
from dayzero.yamlio import parse_yaml, read_json_object, read_text

LOCK_VERSION = 2


def lock_path(recipe_path: Path) -> Path:
    return recipe_path.with_name(recipe_path.name + ".lock.json")


def recipe_files(recipe_path: Path) -> list[Path]:
    """The recipe file and its `extends:` parents, child first (the files whose content the lock hashes)."""
    from .load import MAX_EXTENDS_DEPTH, find_recipe

    files, path = [], recipe_path
    while len(files) <= MAX_EXTENDS_DEPTH:
        files.append(path)
        data = parse_yaml(read_text(path, RecipeError), str(path), RecipeError)
        parent = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(parent, str):
            break
        candidate = path.parent / parent
        path = candidate if candidate.is_file() else find_recipe(parent)
    return files


def _hashes(recipe_path: Path) -> dict[str, str]:
    base = recipe_path.resolve().parent
    out = {}
    for file in recipe_files(recipe_path):
        resolved = file.resolve()
        name = str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(resolved)
        out[name] = hashlib.sha256(file.read_bytes()).hexdigest()
    return out


def hub_revision(model_id: str, source: str, revision: str | None) -> str | None:
    """The commit a hub id resolves to now (online), or in the local cache (offline); None when unknown."""
    if source != "hf":
        return None
    try:
        from huggingface_hub import HfApi

        return str(HfApi().model_info(model_id, revision=revision).sha)
    except Exception:  # offline, gated, unknown: fall back to what the local cache resolved
        pass
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, revision=revision, local_files_only=True)).name
    except Exception:
        return None


def write_lock(recipe_path: Path, registry: Registry, family: Family, *, plan: Any = None) -> Path:
    """Write the lock next to the recipe and return its path (`plan`: the compiled recipe, for the model pins)."""
    from dayzero.sdk.runinfo import library_versions

    data: dict[str, Any] = {
        "lock_version": LOCK_VERSION,
        "recipe_sha256": hashlib.sha256(recipe_path.read_bytes()).hexdigest(),
        "recipe_files": _hashes(recipe_path),
        "registry_version": registry.version,
        "family": family.id,
        "family_revision": family.revision,
        "family_hash": registry.content_hash(family.id),
        "libraries": library_versions(),
    }
    if plan is not None:
        m = plan.model
        data["model"] = {"id": m.id, "source": m.source,
                         "revision": hub_revision(m.id, m.source, m.revision) or m.revision}
    out = lock_path(recipe_path)
    atomic_write_text(out, json.dumps(data, indent=2) + "\n")
    return out


def read_lock(recipe_path: Path) -> dict[str, Any] | None:
    path = lock_path(recipe_path)
    if not path.is_file():
        return None
    return read_json_object(path, RecipeError)


def check_lock(recipe_path: Path, registry: Registry, family: Family) -> dict[str, Any] | None:
    """Raise when a lock exists and any pin no longer holds; return the lock (None when there is none)."""
    from dayzero.sdk.runinfo import library_versions

    lock = read_lock(recipe_path)
    if lock is None:
        return None
    now: dict[str, Any] = {"family": family.id, "family_revision": family.revision,
                           "family_hash": registry.content_hash(family.id)}
    changed = [f"{k}: locked {lock.get(k)!r}, now {v!r}" for k, v in now.items() if lock.get(k) != v]
    if "recipe_files" in lock:
        files = _hashes(recipe_path)
        for name in sorted(set(files) | set(lock["recipe_files"])):
            if files.get(name) != lock["recipe_files"].get(name):
                changed.append(f"recipe file {name} changed since it was locked")
    if "libraries" in lock:
        versions = library_versions()
        changed += [f"{name}: locked {old}, installed {versions.get(name)}"
                    for name, old in lock["libraries"].items() if versions.get(name) != old]
    if changed:
        raise RecipeError(
            "the recipe, the registry or the libraries changed since this recipe was locked (" + "; ".join(changed) + ")",
            where=Where(file=str(lock_path(recipe_path))),
            hint="re-run `dayzero recipe lock` after checking what changed, or pass --ignore-lock",
        )
    return lock
