"""Canonical rows -> token ids and labels, per training stage, through the family's chat template.

All text comes from the template renderer (``dayzero.sdk.templates``): ``segments()`` gives the rendered
conversation as pieces marked trained or not. The whole text is tokenized in one call per batch (the
fast tokenizer's ``encode_batch``, with character offsets), so training sees exactly the tokens the
same text gets at inference, not the concatenation of separately tokenized pieces. For sft rows of a
byte-level BPE on ASCII text the offsets follow from the ids, so those rows go through ``encode_batch_fast``
(no offset mapping) and their token boundaries are running byte sums (``byte_spans``: checked per tokenizer
and per row, the same ids and labels). Labels follow the
templates' own rules (``templates.encode``: ``select_trained`` for train_on_prompt / mask_history /
``train: false``, and a token is trained when any character it covers is), vectorised per batch.

Stages and the columns they produce (TRL 1.16's names for already-tokenized data):

- ``sft``: ``input_ids``, ``labels`` (-100 outside trained spans; ``train_on_prompt`` trains every token,
  ``mask_history`` only the last assistant message's).
- ``pt``: ``input_ids``, ``labels`` (= ids): the text tokenized with the tokenizer's own special tokens
  (bos where the family adds one), then eos.
- ``dpo``: ``prompt_ids``, ``chosen_ids``, ``rejected_ids`` (what ``DPOTrainer._prepare_dataset`` writes).
- ``rm``: ``chosen_ids``, ``rejected_ids``, each prompt + reply (``RewardTrainer`` skips its own tokenizing
  when they are present).
- ``orpo``/``simpo``: ``prompt_input_ids``, ``chosen_input_ids``, ``chosen_labels``, ``rejected_*`` and
  attention masks (what the experimental ORPO/CPO trainers' ``tokenize_row`` writes).
- ``kto``: ``prompt_ids``, ``completion_ids``, ``label``.

Why token ids and not text for the preference stages: TRL re-renders conversational rows with the
tokenizer's own chat template and appends eos to text rows that do not end with it, either of which
can differ from our template. Handing over ids keeps train-time text == our template's text; the
trainer wrapper must skip TRL's own dataset preparation for these stages. A preference prompt is
``render(prompt, add_generation_prompt=True)`` tokenized alone (as at inference); the reply is the rest
of ``render(prompt + reply)`` up to the end of its last trained span (its end-of-turn token), tokenized
alone. A template that does not render the prompt as a prefix of prompt + reply makes the row a problem.

Truncation policy (``cutoff_len``, ``truncation``): sequences keep their start (system prompt and first
turns). An sft conversation that is too long is, by default (``cut``), cut at ``cutoff_len`` inside the turn
that does not fit, as LLaMA-Factory does, so every row is kept: the turns before it keep their end-of-turn
labels and the cut reply is trained up to the cut (labels are the kept tokens' own, nothing past the cut).
``turns`` cuts right after the end-of-turn token of the last assistant message that still fits instead, and
drops a row whose first reply does not fit; ``drop`` drops every row longer than ``cutoff_len``. Dropped rows
are counted (``too_long``); so, in every mode, is a row whose prompt alone leaves no trained token within
``cutoff_len``. A preference/kto row whose prompt + longest reply does not fit is, by default (``cut``), kept
and cut as LLaMA-Factory cuts it (``pair_lengths``: how many prompt and reply tokens stay), except that the
prompt keeps its generation header (``cut_prompt``); the replies are cut alike and trained up to the cut.
``drop`` and ``turns`` (its one reply is the turn that does not fit) drop it. A pt document longer than
``cutoff_len`` is split into chunks when packing, else cut.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import numpy as np

from dayzero.errors import DayzeroError, NotSupportedError
from dayzero.sdk.templates.encode import select_trained, trained_ranges

from .byte_spans import ByteLengths, FastRows
from .packing import split_long
from .pair_cut import cut_prompt, pair_lengths
from .problems import TEMPLATE, Origin, Problem, Stats

IGNORE_INDEX = -100

#: Columns each stage writes.
STAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sft": ("input_ids", "labels"),
    "pt": ("input_ids", "labels"),
    "dpo": ("prompt_ids", "chosen_ids", "rejected_ids"),
    "rm": ("chosen_ids", "rejected_ids"),
    "orpo": ("prompt_input_ids", "prompt_attention_mask", "chosen_input_ids", "chosen_attention_mask",
             "chosen_labels", "rejected_input_ids", "rejected_attention_mask", "rejected_labels"),
    "kto": ("prompt_ids", "completion_ids", "label"),
}
STAGE_COLUMNS["simpo"] = STAGE_COLUMNS["orpo"]


@dataclass(frozen=True)
class Options:
    stage: str
    cutoff_len: int
    train_on_prompt: bool = False
    mask_history: bool = False
    thinking: str | None = None
    packing: bool = False
    truncation: str = "cut"  # cut | turns | drop (sft; see the module docstring)


class Tokens:
    """Batched tokenization through the fast tokenizer's Rust backend (its Encodings keep the offsets)."""

    def __init__(self, tokenizer: Any) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise NotSupportedError(
                f"preprocessing with a slow (Python) tokenizer ({type(tokenizer).__name__})",
                hint="load the tokenizer with a fast backend (tokenizer.json)",
            )
        self.backend = backend
        self.tokenizer = tokenizer

    def ids(self, texts: Sequence[str], special: bool = False) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=special)]


def _trained_tokens(n_chars: int, ranges: list[tuple[int, int]], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which tokens are trained: any of their characters is (an empty span: its position is).

    The same boundary rule as ``dayzero.sdk.templates.encode.encode_text``, vectorised with a prefix
    sum over a per-character mask so a batch costs a few array operations per conversation.
    """
    mask = np.zeros(n_chars + 1, dtype=np.int32)
    for a, b in ranges:
        mask[a:b] = 1
    prefix = np.concatenate(([0], np.cumsum(mask)))
    inside = prefix[ends] - prefix[starts] > 0
    return np.where(ends > starts, inside, mask[np.minimum(starts, n_chars)] > 0)


def _offsets(enc: Any) -> tuple[np.ndarray, np.ndarray]:
    pairs = enc.offsets  # fromiter over the flattened pairs: half the cost of np.asarray(pairs)
    flat = np.fromiter(chain.from_iterable(pairs), dtype=np.int64, count=2 * len(pairs))
    return flat[0::2], flat[1::2]


def _spans_from_mask(trained: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], trained.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


def _token_spans(enc: Any, ranges: list[tuple[int, int]], n_tokens: int) -> list[tuple[int, int]] | None:
    """Token ranges [i, j) holding trained characters, found at the range boundaries only.

    The same rule as ``_trained_tokens`` (a token is trained when any of its characters is; an empty token
    when its position is), asked of the encoding at each range's first and last character (and their
    neighbours, for tokens sharing a character) instead of converting every token's offsets: the offset
    mapping of a batch costs about a tenth of tokenizing it, a few lookups per conversation almost nothing.
    None when a boundary character belongs to no token (a normalizer removed it): the caller then takes the
    per-token path.
    """
    spans: list[tuple[int, int]] = []
    for a, b in ranges:
        i, j = enc.char_to_token(a), enc.char_to_token(b - 1)
        if i is None or j is None:
            return None
        while i > 0:  # earlier tokens sharing the first character (a byte-level split of one character)
            s, e = enc.token_to_chars(i - 1)
            if not (e > a or (s == e and a <= s < b)):
                break
            i -= 1
        while j + 1 < n_tokens:  # later tokens sharing the last character, or empty ones inside the range
            s, e = enc.token_to_chars(j + 1)
            if not (s < b and (e > s or s >= a)):
                break
            j += 1
        if spans and i <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], j + 1))
        else:
            spans.append((i, j + 1))
    return spans


def _tokens_ending_by(enc: Any, char_end: int, n_tokens: int) -> int:
    """How many leading tokens end at or before character `char_end` (searchsorted(ends, char_end, right))."""
    t = enc.char_to_token(char_end - 1) if char_end > 0 else None
    if t is None:
        return int(np.searchsorted(_offsets(enc)[1], char_end, side="right"))
    while t + 1 < n_tokens and enc.token_to_chars(t + 1)[1] <= char_end:
        t += 1
    return t + 1 if enc.token_to_chars(t)[1] <= char_end else t


def _cuts(enc: Any, n_tokens: int, char_ends: list[int]) -> list[int]:
    return [_tokens_ending_by(enc, end, n_tokens) for end in char_ends]


Item = tuple[Origin, dict[str, Any]]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic GC paused while rows are built.

    Preprocessing allocates millions of small lists and dicts that hold no reference cycles; every
    generation-2 collection walks all of them again, a cost that grows with the dataset (measured on
    20k conversations: ~25% of the time). Nothing here creates cycles, so nothing is left uncollected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Preprocessor:
    """Turns canonical rows of one stage into token columns; bad rows become problems, cut rows are counted."""

    def __init__(self, template: Any, tokenizer: Any, options: Options) -> None:
        self.template = template
        self.tokens = Tokens(tokenizer)
        self.byte_lengths = ByteLengths.of(self.tokens.backend) if options.stage == "sft" else None
        self.tokenizer = tokenizer
        self.options = options
        self.columns = STAGE_COLUMNS[options.stage]

    def __call__(self, items: Sequence[Item]) -> tuple[dict[str, list[Any]], Stats, list[Problem]]:
        stats = Stats()
        problems: list[Problem] = []
        out: dict[str, list[Any]] = {c: [] for c in self.columns}
        stage = self.options.stage
        with paused_gc():
            if stage == "sft":
                self._sft(items, out, stats, problems)
            elif stage == "pt":
                self._pt(items, out, stats)
            else:
                self._paired(items, out, stats, problems)
        return out, stats, problems

    # -- sft -----------------------------------------------------------------------------------------

    def _sft(self, items: Sequence[Item], out: dict[str, list], stats: Stats, problems: list[Problem]) -> None:
        # Per-row Python is what preprocessing costs beyond the tokenizer (benchmarks/preprocess.py): the loops
        # below keep to local names and count per batch, and a row's trained-token count comes from its spans.
        render, spans_of, thinking = self.template.segments, self._spans, self.options.thinking
        rendered: list[tuple[str, list[tuple[int, int]], list[int]]] = []
        for origin, row in items:
            messages = row["messages"]
            try:
                segments = render(messages, tools=row.get("tools"), thinking=thinking)
            except DayzeroError as exc:
                problems.append(Problem(origin, TEMPLATE, exc.message))
                continue
            rendered.append(spans_of(messages, segments))
        cutoff = self.options.cutoff_len
        all_ids, all_labels, lengths = out["input_ids"], out["labels"], stats.lengths
        kept = tokens = trained = 0
        for (_text, _ranges, turn_ends), (ids, spans, cuts_of) in zip(rendered, self._encode(rendered), strict=True):
            n = len(ids)
            if n > cutoff:
                found = self._truncate(cuts_of(turn_ends), spans, cutoff)
                if found is None:
                    stats.too_long += 1
                    continue
                cut, kept_turns = found
                stats.truncated += 1
                stats.turns_dropped += len(turn_ends) - kept_turns
                ids, n = ids[:cut], cut
                spans = [(i, min(j, cut)) for i, j in spans if i < cut]
            n_trained = sum(j - i for i, j in spans)  # spans are disjoint
            if not n_trained:
                stats.no_labels += 1
                continue
            labels = [IGNORE_INDEX] * n
            for i, j in spans:
                labels[i:j] = ids[i:j]
            all_ids.append(ids)
            all_labels.append(labels)
            lengths.append(n)
            kept += 1
            tokens += n
            trained += n_trained
        stats.rows_kept += kept
        stats.tokens += tokens
        stats.trained_tokens += trained

    def _encode(self, rendered: list[tuple[str, list[tuple[int, int]], list[int]]]) -> list[tuple[list[int], list, Any]]:
        """Per rendered row: its ids, its trained token spans, and a function giving, for character positions,
        how many tokens end by each (for truncation). One batched tokenizer call per path: rows whose token
        boundaries follow from the ids (``byte_spans``) skip the offset mapping, the others use it."""
        backend, lengths = self.tokens.backend, self.byte_lengths
        texts = [r[0] for r in rendered]
        results: list[Any] = [None] * len(rendered)
        slow = list(range(len(rendered)))
        if lengths is not None:
            fast = [k for k, text in enumerate(texts) if text.isascii()]
            id_lists = [e.ids for e in backend.encode_batch_fast([texts[k] for k in fast], add_special_tokens=False)]
            rows = FastRows(id_lists, lengths, [len(texts[k]) for k in fast])
            queries: list[int] = []
            for r, k in enumerate(fast):
                base = rows.base[r]
                for a, b in rendered[k][1]:
                    queries.append(base + a)
                    queries.append(base + b - 1)
            found, q = rows.token_at(queries), 0
            for r, k in enumerate(fast):
                ranges = rendered[k][1]
                if not rows.ok[r]:
                    q += 2 * len(ranges)
                    continue
                first, spans = rows.firsts[r], []
                for _ in ranges:  # the tokens holding a range's first and last characters, and those between
                    i, j = found[q] - first, found[q + 1] - first + 1
                    q += 2
                    if spans and i <= spans[-1][1]:
                        spans[-1] = (spans[-1][0], max(spans[-1][1], j))
                    else:
                        spans.append((i, j))
                results[k] = (id_lists[r], spans, partial(rows.ending_by, r))
            slow = [k for k in range(len(rendered)) if results[k] is None]
        if slow:
            encodings = backend.encode_batch([texts[k] for k in slow], add_special_tokens=False)
            for k, enc in zip(slow, encodings, strict=True):
                text, ranges, _ = rendered[k]
                n = len(enc.ids)
                spans = _token_spans(enc, ranges, n)
                if spans is None:  # a character no token covers: the exact per-token rule over the offset mapping
                    spans = _spans_from_mask(_trained_tokens(len(text), ranges, *_offsets(enc)))
                results[k] = (enc.ids, spans, partial(_cuts, enc, n))
        return results

    def _spans(self, messages: list[dict[str, Any]], segments: list[Any]) -> tuple[str, list, list[int]]:
        """Text, trained character ranges (the templates' own rules), and where each assistant message ends."""
        opts = self.options
        if opts.train_on_prompt or opts.mask_history:
            untrained = frozenset(i for i, m in enumerate(messages) if m.get("train") is False)
            flags = select_trained(segments, train_on_prompt=opts.train_on_prompt, mask_history=opts.mask_history,
                                   untrained_messages=untrained)
        else:  # what select_trained answers without options: each segment's own flag
            flags = [seg.trained for seg in segments]
        ends: dict[int, int] = {}  # an assistant message ends after its last trained piece (its end-of-turn)
        untrained_ends: dict[int, int] = {}  # ... or, if nothing of it is trained, after its last piece
        pos = 0
        for seg in segments:
            pos += len(seg.text)
            if seg.message_index is not None and seg.role == "assistant":
                (ends if seg.trained else untrained_ends)[seg.message_index] = pos
        text = "".join([seg.text for seg in segments])
        turn_ends = sorted({**untrained_ends, **ends}.values())
        return text, trained_ranges(segments, flags), turn_ends

    def _truncate(self, cuts: list[int], spans: list[tuple[int, int]], cutoff: int) -> tuple[int, int] | None:
        """(tokens to keep, assistant messages kept whole) under the `truncation` mode, or None to drop the row;
        `cuts`: how many tokens end by each assistant message's end."""
        mode = self.options.truncation
        if mode == "turns":  # after the last assistant message that fits and leaves something trained
            for k in range(len(cuts), 0, -1):
                if cuts[k - 1] <= cutoff and spans and spans[0][0] < cuts[k - 1]:
                    return cuts[k - 1], k
            return None
        if mode == "drop" or not spans or spans[0][0] >= cutoff:
            return None
        return cutoff, sum(1 for c in cuts if c <= cutoff)

    # -- pt ------------------------------------------------------------------------------------------

    def _pt(self, items: Sequence[Item], out: dict[str, list], stats: Stats) -> None:
        eos = self.tokenizer.eos_token_id
        cutoff = self.options.cutoff_len
        for ids in self.tokens.ids([row["text"] for _, row in items], special=True):
            if eos is not None and (not ids or ids[-1] != eos):
                ids = [*ids, eos]
            if len(ids) > cutoff:
                if self.options.packing:
                    stats.split_docs += 1
                    chunks = split_long(ids, cutoff)
                else:
                    stats.truncated += 1
                    chunks = [ids[:cutoff]]
            else:
                chunks = [ids]
            for chunk in chunks:
                out["input_ids"].append(chunk)
                out["labels"].append(list(chunk))
                self._count(stats, len(chunk), len(chunk))

    # -- preference and kto ------------------------------------------------------------------------

    def _paired(self, items: Sequence[Item], out: dict[str, list], stats: Stats, problems: list[Problem]) -> None:
        replies = ("completion",) if self.options.stage == "kto" else ("chosen", "rejected")
        texts: list[str] = []
        kept: list[tuple[dict[str, Any], int]] = []  # (row, where the prompt's generation header starts)
        for origin, row in items:
            try:
                parts, header_at = self._split(row, replies)
            except DayzeroError as exc:
                problems.append(Problem(origin, TEMPLATE, exc.message))
                continue
            except _NotPrefix as exc:
                problems.append(Problem(origin, "not_prefix", str(exc)))
                continue
            texts.extend(parts)
            kept.append((row, header_at))
        encodings = self.tokens.backend.encode_batch(texts, add_special_tokens=False)
        width = 1 + len(replies)
        cutoff = self.options.cutoff_len
        for k, (row, header_at) in enumerate(kept):
            prompt_enc = encodings[k * width]
            prompt, answers = prompt_enc.ids, [e.ids for e in encodings[k * width + 1 : (k + 1) * width]]
            longest = max(len(a) for a in answers)
            if len(prompt) + longest > cutoff:
                if self.options.truncation != "cut":  # drop, or turns: the one reply is the turn that does not fit
                    stats.too_long += 1
                    continue
                n_prompt, n_answer = pair_lengths(len(prompt), longest, cutoff)
                if not n_answer:
                    stats.too_long += 1
                    continue
                header = prompt_enc.char_to_token(header_at) if header_at < len(texts[k * width]) else None
                prompt = cut_prompt(prompt, n_prompt, len(prompt) - header if header is not None else 0)
                answers = [a[:n_answer] for a in answers]
                stats.truncated += 1
            self._emit(out, row, prompt, answers)
            total = sum(len(prompt) + len(a) for a in answers)
            self._count(stats, total, sum(len(a) for a in answers))

    def _split(self, row: dict[str, Any], replies: tuple[str, ...]) -> tuple[list[str], int]:
        """The prompt text (with its generation header), each reply's text, and where the header starts."""
        tools, thinking = row.get("tools"), self.options.thinking
        prompt_segments = self.template.segments(row["prompt"], tools=tools, add_generation_prompt=True,
                                                 thinking=thinking)
        header_at, pos = 0, 0
        for seg in prompt_segments:
            pos += len(seg.text)
            if seg.message_index is not None:
                header_at = pos
        prompt = "".join(seg.text for seg in prompt_segments)
        parts = [prompt]
        for name in replies:
            segments = self.template.segments(row["prompt"] + row[name], tools=tools, thinking=thinking)
            full = "".join(s.text for s in segments)
            if not full.startswith(prompt):
                raise _NotPrefix(f"the template does not render the prompt as a prefix of prompt + {name}")
            end, pos = len(prompt), 0
            for seg in segments:
                pos += len(seg.text)
                if seg.trained and pos > end:
                    end = pos
            parts.append(full[len(prompt) : end])
        return parts, header_at

    def _emit(self, out: dict[str, list], row: dict[str, Any], prompt: list[int], answers: list[list[int]]) -> None:
        stage = self.options.stage
        if stage == "dpo":
            out["prompt_ids"].append(prompt)
            out["chosen_ids"].append(answers[0])
            out["rejected_ids"].append(answers[1])
        elif stage == "rm":
            out["chosen_ids"].append(prompt + answers[0])
            out["rejected_ids"].append(prompt + answers[1])
        elif stage == "kto":
            out["prompt_ids"].append(prompt)
            out["completion_ids"].append(answers[0])
            out["label"].append(bool(row["label"]))
        else:  # orpo / simpo: the experimental trainers' tokenize_row layout
            out["prompt_input_ids"].append(prompt)
            out["prompt_attention_mask"].append([1] * len(prompt))
            for name, answer in zip(("chosen", "rejected"), answers, strict=True):
                out[f"{name}_input_ids"].append(prompt + answer)
                out[f"{name}_attention_mask"].append([1] * (len(prompt) + len(answer)))
                out[f"{name}_labels"].append([IGNORE_INDEX] * len(prompt) + answer)

    @staticmethod
    def _count(stats: Stats, n_tokens: int, n_trained: int) -> None:
        stats.rows_kept += 1
        stats.tokens += n_tokens
        stats.trained_tokens += n_trained
        stats.lengths.append(n_tokens)


class _NotPrefix(Exception):
    pass
