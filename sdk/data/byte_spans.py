"""Token boundaries of byte-level BPE encodings without the offset mapping, where that is provably the same.

The fast tokenizer's ``encode_batch`` computes every token's character offsets; a tenth to a sixth of its
time goes there (measured on ChatML conversations with the GPT-2 vocabulary in 512-row batches:
``encode_batch_fast``, which skips them, took 0.83-0.90 of the time). Preprocessing needs offsets only at a few characters per row (where a
trained range starts and ends), and for a byte-level BPE on ASCII text they follow from the ids alone: each
token covers as many characters as it has bytes, one after the other, so a token's end is the running sum
of the byte lengths of the tokens up to it.

That holds only where nothing changes or drops characters between the text and the tokens, so it is used
only when the tokenizer is checked to be such a one (``ByteLengths.of`` answers None otherwise):

- the model is a BPE without a word suffix or a subword prefix (its vocabulary strings are byte-level
  strings: one character per byte);
- the pre-tokenizer is ByteLevel without an added prefix space, alone or after Split (that isolates or
  merges pieces, never removes them) and Digits / Punctuation steps;
- the normalizer is absent or a Unicode normal form (which leaves ASCII text as it is);
- the post-processor does not trim offsets (none, TemplateProcessing, or ByteLevel with
  ``trim_offsets: false``): trimmed offsets would differ from the running sums;
- no added token strips whitespace around it (its span would be longer than its text).

Per row it also needs ASCII text (``str.isascii``), and the byte lengths of its tokens must add up to the
text's length; a row that fails either takes the offset-mapping path. The boundary rule is unchanged:
with contiguous, non-empty token spans "a token is trained when any of its characters is" picks exactly
the tokens from the one holding a range's first character to the one holding its last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

_NORMAL_FORMS = frozenset(("NFC", "NFKC", "NFD", "NFKD"))
_KEEPING_SPLITS = frozenset(("Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"))
_NEVER = 1 << 40  # a length no text has


def _state(component: Any) -> dict[str, Any] | None:
    return None if component is None else json.loads(component.__getstate__())


def _normalizer_ok(state: dict[str, Any] | None) -> bool:
    if state is None:
        return True
    if state["type"] == "Sequence":
        return all(_normalizer_ok(s) for s in state["normalizers"])
    return state["type"] in _NORMAL_FORMS


def _pre_tokenizer_ok(state: dict[str, Any] | None) -> bool:
    steps = (state.get("pretokenizers", []) if state and state["type"] == "Sequence" else [state]) if state else []
    byte_level = False
    for step in steps:
        kind = step["type"]
        if kind == "ByteLevel":
            if step.get("add_prefix_space"):
                return False
            byte_level = True
        elif kind == "Split":
            if step.get("behavior") not in _KEEPING_SPLITS or step.get("invert"):
                return False
        elif kind not in ("Digits", "Punctuation"):
            return False
    return byte_level


def _post_processor_ok(state: dict[str, Any] | None) -> bool:
    if state is None or state["type"] == "TemplateProcessing":
        return True
    if state["type"] == "Sequence":
        return all(_post_processor_ok(s) for s in state["processors"])
    return state["type"] == "ByteLevel" and not state.get("trim_offsets", True)


@dataclass(frozen=True)
class ByteLengths:
    """Each id's length in bytes (= characters on ASCII text), for a tokenizer that passed the checks."""

    table: np.ndarray

    @classmethod
    def of(cls, backend: Any) -> ByteLengths | None:
        """The table for `backend` (a ``tokenizers.Tokenizer``), or None when its offsets cannot be summed."""
        model = backend.model
        if type(model).__name__ != "BPE" or model.continuing_subword_prefix or model.end_of_word_suffix:
            return None
        if not hasattr(backend, "encode_batch_fast"):
            return None
        try:
            ok = (_normalizer_ok(_state(backend.normalizer)) and _pre_tokenizer_ok(_state(backend.pre_tokenizer))
                  and _post_processor_ok(_state(backend.post_processor)))
        except (AttributeError, KeyError, TypeError, ValueError):  # a component this check does not know
            return None
        added = backend.get_added_tokens_decoder()
        if not ok or any(t.lstrip or t.rstrip for t in added.values()):
            return None
        vocab = backend.get_vocab(with_added_tokens=True)
        table = np.zeros(max(vocab.values(), default=-1) + 1, dtype=np.int64)
        for token, i in vocab.items():
            table[i] = len(token)  # byte-level strings: one character per byte
        for i, token in added.items():  # added tokens match their text as it is
            table[i] = len(token.content.encode("utf-8"))
        # An id without a string (a hole in the vocabulary) or an empty one makes no row add up: its rows take
        # the offset mapping, whose rule for empty tokens differs from a running sum.
        table[table == 0] = _NEVER
        return cls(table)


class FastRows:
    """Rows encoded by ``encode_batch_fast`` (no offsets), with their token ends as running byte sums.

    ``ends`` holds every token's end over the rows' concatenation; row ``r``'s tokens are
    ``ends[first[r]:first[r + 1]]`` and its characters start at ``base[r]`` there. ``ok[r]`` says whether the
    row's token lengths add up to its text's length; a row that does not must take the offset mapping.
    """

    def __init__(self, id_lists: list[list[int]], lengths: ByteLengths, text_lengths: list[int]) -> None:
        counts = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
        flat = np.fromiter(chain.from_iterable(id_lists), dtype=np.int64, count=int(counts.sum()))
        self.ends = np.cumsum(lengths.table[flat])
        self.first = np.zeros(len(id_lists) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.first[1:])
        before = np.concatenate(([0], self.ends))  # the end of the token before each position
        base = before[self.first]
        ok = base[1:] - base[:-1] == np.asarray(text_lengths, dtype=np.int64)
        self.base, self.ok = base[:-1].tolist(), ok.tolist()
        self.firsts = self.first[:-1].tolist()

    def token_at(self, positions: list[int]) -> list[int]:
        """For each position over the concatenation, the index of the token holding it (globally)."""
        return np.searchsorted(self.ends, positions, side="right").tolist()

    def ending_by(self, row: int, char_ends: list[int]) -> list[int]:
        """How many of row `row`'s tokens end at or before each of `char_ends` (its own character positions)."""
        base, first = self.base[row], self.firsts[row]
        found = np.searchsorted(self.ends, [base + e for e in char_ends], side="right")
        return (np.minimum(found, self.first[row + 1]) - first).tolist()
