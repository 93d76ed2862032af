"""A content-addressed cache of validated family files: a lookup skips PyYAML and pydantic's schema build.

Why: validating one family file costs more CPU than everything else in a lookup (PyYAML's import and
parse, pydantic building its validator on first use and scanning installed packages for plugins), and a
tool that calls `dayzero registry show` pays it on every cold start. So each file is validated once and
the result kept, keyed by the sha256 of the file's exact bytes together with a fingerprint of the code
that validated it (the schema's sources, pydantic's version, dayzero's version). An entry can never be
served for a file, or a schema, that changed since it was written: a changed file is another key,
read and validated afresh (`tests/test_registry_index.py` edits a file under a warm cache to show it).

An entry is two files: `<key>.pickle`, the validated `Family`, and `<key>.json`, its JSON dump (what
`registry show --json` prints, read without importing pydantic at all). Pickles are read back through an
unpickler that resolves nothing but the registry's schema classes, so a planted file cannot run code;
an unreadable, foreign or mismatched entry is a miss, never an error.

Location: `DAYZERO_REGISTRY_CACHE` (a folder, or `off` to disable), else `$XDG_CACHE_HOME/dayzero/registry`,
else `~/.cache/dayzero/registry`. A cache that cannot be written is skipped silently: it only saves time.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .schema import Family

ENV = "DAYZERO_REGISTRY_CACHE"
# What `dayzero.yamlio` accepts (not imported: it needs PyYAML); a larger file is never cached, and fails validation.
MAX_FILE_BYTES = 8_000_000
_SCHEMA_MODULE = "dayzero.registry.schema"


def cache_dir() -> Path | None:
    """The cache folder, or None when `DAYZERO_REGISTRY_CACHE=off`."""
    env = os.environ.get(ENV)
    if env:
        return None if env.lower() in {"off", "0", "none"} else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dayzero" / "registry"


@lru_cache(maxsize=1)
def schema_fingerprint() -> str:
    """sha256 over what decides a validated result: the schema's sources, pydantic's and dayzero's versions.

    Read from the files (a few KB), not from the imported modules, so that computing it imports nothing.
    """
    from importlib.util import find_spec

    import dayzero

    digest = hashlib.sha256(f"dayzero {dayzero.__version__}\n".encode())
    schema_dir = Path(__file__).with_name("schema")
    for path in sorted(schema_dir.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    spec = find_spec("pydantic")
    origin = Path(spec.origin) if spec and spec.origin else None
    version_file = origin.with_name("version.py") if origin else None
    digest.update(version_file.read_bytes() if version_file and version_file.is_file() else b"pydantic ?")
    return digest.hexdigest()


def read_bytes(path: Path) -> bytes | None:
    """A family file's bytes, or None when it is missing, unreadable or too large to be one (the slow path says why)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def key(data: bytes) -> str:
    """The cache key of a family file's bytes under this schema."""
    return hashlib.sha256(schema_fingerprint().encode() + b"\0" + data).hexdigest()


class _SchemaOnly(pickle.Unpickler):
    """Resolves registry schema classes only: anything else in a pickle (`os.system`...) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module == _SCHEMA_MODULE or module.startswith(_SCHEMA_MODULE + ".")) and "." not in name:
            found = super().find_class(module, name)
            # defined there, not merely imported there (pydantic's BaseModel, typing's names)
            if isinstance(found, type) and str(getattr(found, "__module__", "")).startswith(_SCHEMA_MODULE):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a registry schema class")


def cached_family(data: bytes, family_id: str | None = None) -> Family | None:
    """The validated family of these bytes if the cache holds it (and its id is ``family_id`` when given)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        raw = (folder / f"{key(data)}.pickle").read_bytes()
        family = _SchemaOnly(io.BytesIO(raw)).load()
    except Exception:  # a missing, truncated or foreign entry is a miss; the caller validates the file
        return None
    from .schema import Family

    if not isinstance(family, Family) or (family_id is not None and family.id != family_id):
        return None
    return family


def cached_json(data: bytes, family_id: str) -> dict[str, Any] | None:
    """The JSON dump (`model_dump(mode="json", by_alias=True)`) of these bytes' family, if cached."""
    import json

    folder = cache_dir()
    if folder is None:
        return None
    try:
        dumped = json.loads((folder / f"{key(data)}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return dumped if isinstance(dumped, dict) and dumped.get("id") == family_id else None


def remember(data: bytes, family: Family) -> None:
    """Keep the validated ``family`` of these bytes (pickle and JSON dump); a failed write is ignored."""
    import json

    folder = cache_dir()
    if folder is None:
        return
    name = key(data)
    try:
        dumped = json.dumps(family.model_dump(mode="json", by_alias=True), ensure_ascii=False).encode("utf-8")
        pickled = pickle.dumps(family, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an entry that cannot be kept is no error: the lookup validated the file already
        return
    _write(folder / f"{name}.json", dumped)
    _write(folder / f"{name}.pickle", pickled)


def _write(path: Path, payload: bytes) -> None:
    """Temp sibling then rename, so a concurrent reader sees the old entry, the new one, or none."""
    import tempfile

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
