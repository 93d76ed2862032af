"""The cache of validated family files (`registry/index.py`) saves time and is never wrong.

Keyed by the file's bytes: an edited file is validated afresh (a warm cache never serves the old
facts, nor hides a broken file); a planted or corrupt entry is a miss, never code run; a cached
lookup gives the same object validation gives.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from registry_helpers import replace_top_level, scratch_registry

from dayzero import registry
from dayzero.errors import RegistryError
from dayzero.registry import index, store


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A scratch registry as the default one, with an empty cache of its own."""
    root, cache = scratch_registry(tmp_path), tmp_path / "cache"
    monkeypatch.setenv("DAYZERO_REGISTRY_ROOT", str(root))
    monkeypatch.setenv(index.ENV, str(cache))
    registry._get_one.cache_clear()
    registry.default.cache_clear()
    yield root, cache
    registry._get_one.cache_clear()
    registry.default.cache_clear()


def _fresh_get(family_id: str):  # type: ignore[no-untyped-def]
    registry._get_one.cache_clear()  # what a new process sees: only the files and the cache
    return registry.get(family_id)


def test_edited_file_is_validated_again_not_served_from_cache(scratch: tuple[Path, Path]) -> None:
    root, cache = scratch
    assert _fresh_get("qwen3").tokenizer.eos == "<|im_end|>"
    assert len(list(cache.glob("*.pickle"))) == 1 and len(list(cache.glob("*.json"))) == 1
    path = root / "qwen3.yaml"
    path.write_text(path.read_text().replace('eos: "<|im_end|>"', 'eos: "<|endoftext|>"'))
    assert _fresh_get("qwen3").tokenizer.eos == "<|endoftext|>"
    assert registry.get_json("qwen3")["tokenizer"]["eos"] == "<|endoftext|>"
    replace_top_level(path, "revision", "revision: zero")  # broken now: the warm cache must not hide it
    with pytest.raises(RegistryError, match="revision"):
        _fresh_get("qwen3")
    with pytest.raises(RegistryError, match="revision"):
        registry.get_json("qwen3")


def test_cached_lookup_equals_validation(scratch: tuple[Path, Path]) -> None:
    root, _ = scratch
    for family_id in ("qwen3", "llama3", "gpt-oss"):
        validated = store._model(store.Family, root / f"{family_id}.yaml")
        first, again = _fresh_get(family_id), _fresh_get(family_id)  # a miss, then a hit
        assert index.cached_family((root / f"{family_id}.yaml").read_bytes(), family_id) is not None
        assert first == validated and again == validated
        assert registry.get_json(family_id) == validated.model_dump(mode="json", by_alias=True)
    assert store.load(root).families["qwen3"] == store._model(store.Family, root / "qwen3.yaml")


class _Planted:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo planted > planted.txt",))


def test_planted_or_corrupt_entry_is_a_miss(
    scratch: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cache = scratch
    monkeypatch.chdir(tmp_path)
    data = (root / "qwen3.yaml").read_bytes()
    cache.mkdir(parents=True)
    entry = cache / f"{index.key(data)}.pickle"
    entry.write_bytes(pickle.dumps(_Planted()))
    assert _fresh_get("qwen3").tokenizer.eos == "<|im_end|>"
    assert not (tmp_path / "planted.txt").exists()
    entry.write_bytes(pickle.dumps(Path("planted")))  # a class, but no registry schema class
    assert _fresh_get("qwen3").tokenizer.eos == "<|im_end|>"
    entry.write_bytes(b"\x80\x05truncated")
    assert _fresh_get("qwen3").tokenizer.eos == "<|im_end|>"
    (cache / f"{index.key(data)}.json").write_text('{"id": "llama3"}')  # another family's dump: ignored
    assert registry.get_json("qwen3")["id"] == "qwen3"


def test_cache_off_writes_nothing(scratch: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, cache = scratch
    monkeypatch.setenv(index.ENV, "off")
    assert _fresh_get("qwen3").id == "qwen3" and registry.get_json("qwen3")["id"] == "qwen3"
    assert not cache.exists()


def test_warm_show_json_imports_no_pydantic(scratch: tuple[Path, Path]) -> None:
    """The speed claim in a form that can fail: a cached `show --json` lookup never imports pydantic or yaml."""
    probe = (
        "import sys, json, dayzero.registry as r; d = r.get_json('qwen3'); "
        "print(d['tokenizer']['eos'], any(m in sys.modules for m in ('pydantic', 'yaml', 'torch')))"
    )
    env = dict(os.environ)
    runs = [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.split() == ["<|im_end|>", "True"]  # cold: validated (pydantic), then cached
    assert runs[1].stdout.split() == ["<|im_end|>", "False"]


def test_size_limit_is_the_loaders() -> None:
    from dayzero import yamlio

    assert index.MAX_FILE_BYTES == yamlio.MAX_FILE_BYTES
