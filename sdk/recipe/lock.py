"""Recipe locks: `FILE.lock.json` pins the registry version, the family revision and content hashes.

A locked recipe refuses to compile against a family whose content changed since the lock was written
(a changed template or eos token silently changes what training learns), unless `ignore_lock` is set.
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
from dayzero.yamlio import read_json_object

LOCK_VERSION = 1


def lock_path(recipe_path: Path) -> Path:
    return recipe_path.with_name(recipe_path.name + ".lock.json")


def write_lock(recipe_path: Path, registry: Registry, family: Family) -> Path:
    """Write the lock next to the recipe and return its path."""
    data: dict[str, Any] = {
        "lock_version": LOCK_VERSION,
        "recipe_sha256": hashlib.sha256(recipe_path.read_bytes()).hexdigest(),
        "registry_version": registry.version,
        "family": family.id,
        "family_revision": family.revision,
        "family_hash": registry.content_hash(family.id),
    }
    out = lock_path(recipe_path)
    atomic_write_text(out, json.dumps(data, indent=2) + "\n")
    return out


def check_lock(recipe_path: Path, registry: Registry, family: Family) -> None:
    """Raise when a lock exists and the family it pinned has changed (or is another family)."""
    path = lock_path(recipe_path)
    if not path.is_file():
        return
    lock = read_json_object(path, RecipeError)
    now = {"family": family.id, "family_revision": family.revision, "family_hash": registry.content_hash(family.id)}
    changed = [f"{k}: locked {lock.get(k)!r}, now {v!r}" for k, v in now.items() if lock.get(k) != v]
    if changed:
        raise RecipeError(
            "the registry changed since this recipe was locked (" + "; ".join(changed) + ")",
            where=Where(file=str(path)),
            hint="re-run `dayzero recipe lock` after checking the family changelog, or pass --ignore-lock",
        )
