"""Tokenizer facts: special tokens are single ids, bos/eos/pad/end-of-turn are what the entry says.

Three sources, each its own check, because each can be missing independently: the official
tokenizer_config.json (when `--model` or the reference gives one), the tiny tokenizer every other
stage uses, and the reference token-id vectors (a GGUF vocabulary plus llama.cpp's .inp/.out pairs,
which hold the *Hugging Face* tokenizer's ids for ~46 hard strings).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ..context import Context
from ..result import NotApplicable, Outcome, Unavailable
from .base import check

_SEPARATOR = "\n__ggml_vocab_test__\n"


@check("tokenizer.official", "bos / eos / pad and special tokens agree with the official tokenizer_config.json")
def official(ctx: Context) -> Outcome:
    files = ctx.official_files()
    if files.tokenizer_config is None:
        raise NotApplicable(f"no tokenizer_config.json in {files.source}")
    facts = ctx.family.tokenizer
    problems: list[str] = []
    compared: dict[str, Any] = {}
    for name, declared in (("bos_token", facts.bos), ("eos_token", facts.eos), ("pad_token", facts.pad)):
        got = files.token(name)
        compared[name] = {"declared": declared, "official": got}
        if name == "pad_token" and got is None:
            continue  # no pad in the release: the entry may name the one training uses
        if got != declared:
            problems.append(f"{name}: entry says {declared!r}, official says {got!r}")
    added = files.added_tokens()
    if added:
        missing = [t for t in facts.all_special() if t not in added]
        compared["special_tokens_missing"] = missing
        if missing:
            problems.append(f"special tokens not in added_tokens_decoder: {missing}")
    official_add_bos = (files.tokenizer_config or {}).get("add_bos_token")
    if isinstance(official_add_bos, bool):
        compared["add_bos"] = {"declared": facts.add_bos, "official": official_add_bos}
        if official_add_bos != facts.add_bos:
            problems.append(f"add_bos: entry says {facts.add_bos}, official says {official_add_bos}")
    ok = not problems
    return Outcome(ok, "; ".join(problems) or f"agrees with {Path(files.source).name}", compared)


@check("tokenizer.generation-eos", "generation_config.json's eos ids are the entry's `serving.generation_eos`")
def generation_eos(ctx: Context) -> Outcome:
    files = ctx.official_files()
    by_id = {v: k for k, v in files.added_tokens().items()}
    cfg = files.config or {}
    # config.json's eos id names tokenizer_config.json's eos token. Not bos: releases copy a stale
    # bos_token_id into config.json (R1-Distill-Qwen's says 151643, its eos).
    for key in ("eos",):
        if isinstance(cfg.get(f"{key}_token_id"), int) and files.token(f"{key}_token"):
            by_id.setdefault(cfg[f"{key}_token_id"], files.token(f"{key}_token"))
    if files.generation_config is None or not by_id:
        raise NotApplicable("no generation_config.json, or no token names to map its ids to")
    eos = files.generation_config.get("eos_token_id")
    ids = eos if isinstance(eos, list) else [eos]
    official = sorted(by_id.get(i, f"<id {i}>") for i in ids if i is not None)
    declared = sorted(ctx.family.serving.generation_eos)
    ok = set(official) <= set(declared)
    summary = f"official {official} within declared {declared}" if ok else f"official {official} vs declared {declared}"
    return Outcome(ok, summary, {"official": official, "declared": declared})


@check("tokenizer.tiny", "the tiny tokenizer holds every special token as one id, with the declared bos/eos/pad")
def tiny(ctx: Context) -> Outcome:
    tok = ctx.tiny_tokenizer()
    facts = ctx.family.tokenizer
    problems: list[str] = []
    ids: dict[str, Any] = {}
    for token in facts.all_special():
        encoded = tok.encode(token, add_special_tokens=False)
        ids[token] = encoded
        if len(encoded) != 1:
            problems.append(f"{token!r} encodes to {len(encoded)} ids")
    expect = {"bos": facts.bos, "eos": facts.eos, "pad": facts.pad or facts.eos}
    got = {"bos": tok.bos_token, "eos": tok.eos_token, "pad": tok.pad_token}
    for key, want in expect.items():
        if got[key] != want:
            problems.append(f"{key}_token is {got[key]!r}, entry says {want!r}")
    text_ids = tok.encode("Hello world")
    starts_with_bos = bool(text_ids) and tok.bos_token_id is not None and text_ids[0] == tok.bos_token_id
    if starts_with_bos != facts.add_bos:
        problems.append(f"encoding text {'adds' if starts_with_bos else 'does not add'} bos; add_bos is {facts.add_bos}")
    for token in facts.end_of_turn:
        if token not in tok.get_vocab():
            problems.append(f"end-of-turn {token!r} is not in the vocabulary")
    evidence = {"single_ids": {k: len(v) == 1 for k, v in ids.items()}, "tokens": got, "adds_bos": starts_with_bos}
    return Outcome(not problems, "; ".join(problems) or f"{len(ids)} special tokens, one id each", evidence)


@lru_cache(maxsize=4)
def _gguf_tokenizer(path: str) -> Any:
    """Loading a GGUF vocabulary costs seconds; one load per process and file.

    A sentencepiece vocabulary (`tokenizer.ggml.model: llama`) with `tokenizer.ggml.add_space_prefix` (llama.cpp's
    default: true) prepends one `▁` to every text, whatever it starts with (sentencepiece's `add_dummy_prefix`, what
    llama.cpp's SPM tokenizer and the Llama 2 tokenizer.json's `Prepend` normalizer do). transformers' GGUF loader
    builds the `llama` architecture's tokenizer with `Metaspace(prepend_scheme="first")` instead, which skips the
    prefix when the text already starts with a space (" Hello" -> `▁Hello`, not `▁ ▁Hello`); the vocabulary is
    then tested with another tokenizer's rules. The file's own rule is applied here.
    """
    from transformers import AutoTokenizer

    p = Path(path)
    tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
    if _gguf_spm_dummy_prefix(p):
        from tokenizers import normalizers

        backend = tok.backend_tokenizer
        backend.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        backend.pre_tokenizer = None
    return tok


def _gguf_spm_dummy_prefix(path: Path) -> bool:
    """Whether the GGUF vocabulary is sentencepiece with the dummy prefix (read from its metadata)."""
    import gguf

    fields = gguf.GGUFReader(str(path)).fields

    def value(key: str) -> Any:
        field = fields.get(key)
        if field is None:
            return None
        part = field.parts[field.data[0]]
        return bytes(part).decode("utf-8") if field.types and field.types[0] == gguf.GGUFValueType.STRING \
            else part.tolist()[0]

    add_space_prefix = value("tokenizer.ggml.add_space_prefix")
    return value("tokenizer.ggml.model") == "llama" and add_space_prefix is not False


def read_vectors(stem: Path) -> list[tuple[str, list[int]]]:
    """The (text, ids) pairs of a llama.cpp `.inp`/`.out` pair."""
    texts = stem.with_name(stem.name + ".inp").read_text(encoding="utf-8").split(_SEPARATOR)
    if texts and texts[-1] == "":
        texts = texts[:-1]
    lines = stem.with_name(stem.name + ".out").read_text(encoding="utf-8").split("\n")
    pairs = []
    for i, text in enumerate(texts):
        line = lines[i].strip() if i < len(lines) else ""
        pairs.append((text, [int(x) for x in line.split()] if line else []))
    return pairs


@check("tokenizer.reference-vectors", "the real vocabulary reproduces the reference token ids")
def reference_vectors(ctx: Context) -> Outcome:
    stem_rel = ctx.family.tokenizer.reference_vectors
    if not stem_rel:
        raise NotApplicable("no `tokenizer.reference_vectors` recorded")
    if ctx.reference_dir is None:
        raise Unavailable(f"reference folder for {stem_rel}")
    stem = ctx.reference_dir / stem_rel
    if not stem.is_file():
        raise NotApplicable(f"{stem_rel} (the GGUF vocabulary) is not under the reference folder; only .inp/.out")
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise Unavailable("gguf (pip install gguf)") from None
    tok = _gguf_tokenizer(str(stem))
    pairs = read_vectors(stem)
    failures = []
    for text, want in pairs:
        got = tok.encode(text, add_special_tokens=False)
        if got != want:
            failures.append({"text": text[:60], "expected": want[:16], "got": got[:16]})
    ok = not failures
    summary = f"{len(pairs) - len(failures)}/{len(pairs)} vectors match ({stem.name} via transformers' GGUF loader)"
    return Outcome(ok, summary, {"vectors": len(pairs), "failures": failures[:10], "failed": len(failures)})
