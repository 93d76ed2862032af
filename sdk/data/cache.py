"""The tokenized cache: a second preparation of the same data with the same tokenizer and template is a read.

The key hashes everything the tokenized rows depend on: each dataset's fingerprint (spec, and local
files' sizes and mtimes), the tokenizer (its serialized vocabulary, merges, normalizer and special
tokens), the chat template (the text and trained spans it renders for a fixed probe conversation, so
any change that alters training text invalidates the entry, whatever the change was), the stage and
every option that shapes rows, and `CACHE_VERSION` (bumped when dayzero's own preprocessing changes).

An entry is a folder ``<cache_dir>/<key>/`` with ``train/`` (and ``eval/``) saved by ``datasets`` and
``stats.json``. It is written in a temporary sibling folder and renamed into place, so a crash never
leaves something that looks like a complete entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .problems import Stats

CACHE_VERSION = 3  # 2: packed rows carry seq_lengths; 3: long preference rows are cut, not dropped

# A conversation touching every feature a template may render differently.
PROBE: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a probe."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello", "reasoning_content": "greet back"},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "content": "sunny"},
    {"role": "assistant", "content": "It is sunny."},
]
PROBE_TOOLS = [{"type": "function", "function": {"name": "weather", "description": "Weather of a city",
                                                "parameters": {"type": "object",
                                                               "properties": {"city": {"type": "string"}}}}}]


def tokenizer_hash(tokenizer: Any) -> str:
    """Hash of what decides token ids: the backend's full serialization, else the vocabulary."""
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    else:
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    h.update(json.dumps([tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token]).encode())
    return h.hexdigest()[:16]


def template_hash(template: Any, thinking: str | None = None) -> str:
    """Hash of what the template makes of a probe conversation (text and trained flags)."""
    h = hashlib.sha256()
    for messages in (PROBE[1:3], PROBE[:3], PROBE):  # without a system turn: default system prompts show
        for tools in (None, PROBE_TOOLS):
            try:
                segments = template.segments(messages, tools=tools, thinking=thinking)
                h.update(json.dumps([(s.text, s.role, s.trained) for s in segments]).encode())
            except Exception as exc:  # a template without system or tools support: its refusal is its answer
                h.update(f"{type(exc).__name__}:{exc}".encode())
    return h.hexdigest()[:16]


def cache_key(parts: dict[str, Any]) -> str:
    payload = json.dumps({"version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def load(cache_dir: Path, key: str) -> tuple[Any, Any, Stats] | None:
    """(train, eval or None, stats) of a complete entry, or None."""
    entry = cache_dir / key
    if not (entry / "stats.json").is_file():
        return None
    import datasets

    train = datasets.load_from_disk(str(entry / "train"))
    evaluation = datasets.load_from_disk(str(entry / "eval")) if (entry / "eval").is_dir() else None
    stats = Stats.from_json(json.loads((entry / "stats.json").read_text(encoding="utf-8")))
    stats.cached = True
    return train, evaluation, stats


def store(cache_dir: Path, key: str, train: Any, evaluation: Any, stats: Stats, manifest: dict[str, Any]) -> Path:
    """Write an entry atomically (temporary folder, then rename); an existing complete entry is kept."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / key
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache_dir))
    try:
        train.save_to_disk(str(tmp / "train"))
        if evaluation is not None:
            evaluation.save_to_disk(str(tmp / "eval"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        # stats.json last: its presence is what marks an entry complete
        (tmp / "stats.json").write_text(json.dumps(stats.to_json()), encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:  # another process stored the same key first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
