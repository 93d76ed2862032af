"""A release's tokenizer kind (`tokenizer.kind`), read from the tokenizer's own files, never from its name.

In order: `tokenizer.json`'s model (a ByteLevel pre-tokenizer or decoder is byte-level BPE; Unigram, a
Metaspace step or BPE with byte fallback is SentencePiece), the vocabulary files beside it
(`tokenizer.model`, `*.tiktoken`, `vocab.json` + `merges.txt`), then the vocabulary files the
tokenizer class named in tokenizer_config.json reads. With none of these, the vocabulary size decides
(large vocabularies today are byte-level BPE) and the draft says it guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _steps(node: Any) -> list[dict[str, Any]]:
    """A tokenizer.json component and its nested steps (Sequence pre-tokenizers, decoders, normalizers)."""
    if not isinstance(node, dict):
        return []
    out = [node]
    for key in ("pretokenizers", "decoders", "normalizers"):
        for child in node.get(key) or []:
            out += _steps(child)
    return out


def kind_from_tokenizer_json(data: dict[str, Any]) -> str | None:
    """byte_level_bpe | sentencepiece from a parsed tokenizer.json, or None when it does not say."""
    model = data.get("model") or {}
    steps = [s for key in ("pre_tokenizer", "decoder", "normalizer") for s in _steps(data.get(key))]
    types = {s.get("type") for s in steps}
    replaces_space = any(s.get("type") == "Replace" and s.get("content") == "▁" for s in steps)
    if model.get("type") == "Unigram" or "Metaspace" in types or replaces_space or model.get("byte_fallback"):
        return "sentencepiece"
    if "ByteLevel" in types:
        return "byte_level_bpe"
    return None


def kind_from_files(folder: Path, tokenizer_class: str | None) -> str | None:
    """The kind the files beside tokenizer_config.json (or the named class's vocabulary files) imply."""
    tok_json = folder / "tokenizer.json"
    if tok_json.is_file():
        try:
            found = kind_from_tokenizer_json(json.loads(tok_json.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            found = None
        if found:
            return found
    if any(folder.glob("*.tiktoken")):
        return "tiktoken"
    if (folder / "tokenizer.model").is_file():
        return "sentencepiece"
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        return "byte_level_bpe"
    if tokenizer_class:
        import transformers

        names = getattr(getattr(transformers, tokenizer_class, None), "vocab_files_names", None) or {}
        if str(names.get("vocab_file", "")).endswith(".model") and "merges_file" not in names:
            return "sentencepiece"
        if "merges_file" in names:
            return "byte_level_bpe"
    return None


def tokenizer_kind(folder: Path, tokenizer_config: dict[str, Any] | None, vocab_size: int | None) -> tuple[str, bool]:
    """(kind, guessed): the tokenizer's kind and whether it was guessed from the vocabulary size alone."""
    cls = (tokenizer_config or {}).get("tokenizer_class")
    found = kind_from_files(folder, cls if isinstance(cls, str) else None)
    if found:
        return found, False
    return ("sentencepiece" if int(vocab_size or 0) < 100_000 else "byte_level_bpe"), True
