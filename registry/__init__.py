"""The dayzero family registry: typed, versioned facts about model families, as data.

Fast by design: importing this module reads nothing, and lookups import neither torch nor
transformers. The bundled registry is loaded (and validated) once, on first use.

>>> from dayzero import registry
>>> registry.get("qwen3").tokenizer.eos
'<|im_end|>'
>>> registry.resolve("Qwen/Qwen2.5-7B-Instruct").family.id
'qwen2'
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - the names below are imported lazily at runtime
    from .matching import Resolution
    from .schema import ChatFormat, Family, Rule, Status
    from .store import Registry

# Public names resolved on first use, so that `import dayzero.registry` costs next to nothing and
# pydantic's model building is paid only by code that really looks something up.
_LAZY = {
    "Resolution": ".matching",
    "ChatFormat": ".schema",
    "Family": ".schema",
    "Rule": ".schema",
    "Status": ".schema",
    "Registry": ".store",
    "load": ".store",
}

__all__ = [
    "ChatFormat",
    "Family",
    "Registry",
    "Resolution",
    "Rule",
    "Status",
    "default",
    "families",
    "formats",
    "get",
    "get_json",
    "load",
    "resolve",
    "rules",
    "version",
]


@lru_cache(maxsize=1)
def default() -> Registry:
    """The bundled registry, loaded once per process."""
    from .paths import default_root
    from .store import load

    return load(default_root())


def get(family_id: str) -> Family:
    """The family with this id; `FamilyNotFoundError` lists the known ids otherwise.

    Before the whole registry is loaded, only `<id>.yaml` is read, and validated unless the cache
    (`registry/index.py`) holds these exact bytes: a lookup costs the same with 20 families or 200
    (`benchmarks/registry_lookup.py`), and a cached one imports neither PyYAML nor builds a validator.
    """
    if _before_load():
        found = _get_one(family_id)
        if found is not None:
            return found
    return default().get(family_id)


def get_json(family_id: str) -> dict[str, Any]:
    """``get(family_id).model_dump(mode="json", by_alias=True)``: read from the cache when it holds this file.

    What `dayzero registry show --json` prints; a cached answer imports no pydantic at all.
    """
    if _before_load():
        from . import index
        from .paths import default_root, family_path

        path = family_path(default_root(), family_id)
        data = index.read_bytes(path) if path is not None else None
        dumped = index.cached_json(data, family_id) if data is not None else None
        if dumped is not None:
            return dumped
    return get(family_id).model_dump(mode="json", by_alias=True)


def _before_load() -> bool:
    info = getattr(default, "cache_info", None)  # conformance swaps `default` for a scratch registry's
    return info is not None and info().currsize == 0


@lru_cache(maxsize=256)
def _get_one(family_id: str) -> Family | None:
    from . import index
    from .paths import default_root, family_path

    path = family_path(default_root(), family_id)
    data = index.read_bytes(path) if path is not None else None
    cached = index.cached_family(data, family_id) if data is not None else None
    if cached is not None:
        return cached
    from .store import load_one

    return load_one(default_root(), family_id)


def resolve(target: str | Path | dict[str, Any]) -> Resolution:
    """The family (and checkpoint) for a family id, a hub id, a config.json path or dir, or a config dict."""
    from .matching import resolve as _resolve

    return _resolve(default(), target)


def families(status: Status | str | None = None) -> list[Family]:
    """All families, sorted by id; only those with ``status`` when given."""
    from .schema import Status

    wanted = Status(status).value if status is not None else None
    return [f for _, f in sorted(default().families.items()) if wanted is None or f.status == wanted]


def formats() -> dict[str, ChatFormat]:
    return dict(default().formats)


def rules() -> list[Rule]:
    return list(default().rules)


def __getattr__(name: str) -> Any:
    if name == "version":  # read lazily so that `import dayzero.registry` touches no file
        return default().version
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'dayzero.registry' has no attribute {name!r}")
