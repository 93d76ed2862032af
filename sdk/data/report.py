"""What `dayzero data preview` and `dayzero data stats` show: rendered rows with their trained spans, and figures.

Kept out of the CLI module so the same views can be used from Python (a notebook, a test) and so the
CLI module imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .problems import Origin, Problem, ProblemLog, Stats
from .spec import STAGE_KIND, DataConfig, Kind


@dataclass(frozen=True)
class Piece:
    text: str
    trained: bool
    label: str = ""  # a heading for preference parts ("prompt", "chosen", ...)


@dataclass(frozen=True)
class PreviewRow:
    origin: Origin
    pieces: list[Piece]
    tokens: int
    trained_tokens: int


class _Pending(ProblemLog):
    """A problem log that also keeps every problem until the preview has shown it."""

    def __init__(self) -> None:
        super().__init__("skip")
        self.pending: list[Problem] = []

    def add(self, problem: Problem) -> None:
        super().add(problem)
        self.pending.append(problem)

    def drain(self) -> Iterator[Problem]:
        shown, self.pending = self.pending, []
        yield from shown


def preview(
    config: DataConfig, *, stage: str, template: Any, tokenizer: Any, n: int = 3, base_dir: Path | None = None
) -> Iterator[PreviewRow | Problem]:
    """The first `n` good rows as the template renders them, pieces marked trained or not, with token counts,
    and every row skipped on the way as a `Problem` (where it is and why), in file order."""
    from .pipeline import read, resolve_specs
    from .preprocess import Options, Preprocessor

    specs = resolve_specs(config, stage, base_dir)
    options = Options(stage, config.cutoff_len, config.train_on_prompt, config.mask_history, config.thinking,
                      truncation=config.truncation)
    pre = Preprocessor(template, tokenizer, options)
    log = _Pending()
    shown = 0
    for spec in specs:
        for origin, row in read(spec, stage, log, None, True, config.placeholders):
            yield from log.drain()  # rows that failed to read or convert before this one
            if shown >= n:
                return
            _, stats, problems = pre([(origin, row)])
            if problems:
                yield from problems
                continue
            if not stats.rows_kept:  # dropped by tokenizing: too long for cutoff_len, or nothing to train
                why = "too_long" if stats.too_long else "no_labels"
                yield Problem(origin, why, f"dropped while tokenizing (cutoff_len {config.cutoff_len})")
                continue
            yield PreviewRow(origin, _pieces(row, stage, template, pre, config), stats.tokens, stats.trained_tokens)
            shown += 1
        yield from log.drain()


def _pieces(row: dict[str, Any], stage: str, template: Any, pre: Any, config: DataConfig) -> list[Piece]:
    kind = STAGE_KIND[stage]
    if kind == Kind.text:
        return [Piece(row["text"], True)]
    if kind == Kind.sft:
        segments = template.segments(row["messages"], tools=row.get("tools"), thinking=config.thinking)
        _, ranges, _ = pre._spans(row["messages"], segments)
        text = "".join(s.text for s in segments)
        pieces, pos = [], 0
        for a, b in ranges:
            if a > pos:
                pieces.append(Piece(text[pos:a], False))
            pieces.append(Piece(text[a:b], True))
            pos = b
        if pos < len(text):
            pieces.append(Piece(text[pos:], False))
        return pieces
    replies = ("completion",) if kind == Kind.kto else ("chosen", "rejected")
    parts, _ = pre._split(row, replies)
    pieces = [Piece(parts[0], False, "prompt")]
    for name, text in zip(replies, parts[1:], strict=True):
        label = f"{name} ({'desirable' if row['label'] else 'undesirable'})" if name == "completion" else name
        pieces.append(Piece(text, True, label))
    return pieces


def histogram(lengths: list[int], cutoff: int) -> list[tuple[str, int]]:
    """Row counts per token-length bin: powers of two up to `cutoff`."""
    edges = [0]
    while edges[-1] < cutoff:
        edges.append(min(cutoff, max(16, edges[-1] * 2)))
    counts = [0] * (len(edges) - 1)
    for n in lengths:
        for i in range(len(edges) - 1):
            if n <= edges[i + 1] or i == len(edges) - 2:
                counts[i] += 1
                break
    return [(f"{edges[i] + 1}-{edges[i + 1]}", c) for i, c in enumerate(counts)]


def summary(stats: Stats, cutoff: int) -> dict[str, Any]:
    """The stats as plain data (for `--json` and for the table)."""
    lengths = sorted(stats.lengths)
    pct = (lambda q: lengths[min(len(lengths) - 1, int(q * len(lengths)))]) if lengths else (lambda q: 0)
    return {
        "rows_read": stats.rows_read,
        "rows_kept": stats.rows_kept,
        "train_rows": stats.train_rows,
        "eval_rows": stats.eval_rows,
        "problems": dict(stats.problems),
        "problem_examples": stats.examples,
        "truncated": stats.truncated,
        "turns_dropped": stats.turns_dropped,
        "too_long": stats.too_long,
        "no_labels": stats.no_labels,
        "split_docs": stats.split_docs,
        "tokens": stats.tokens,
        "trained_tokens": stats.trained_tokens,
        "length": {"min": lengths[0] if lengths else 0, "median": pct(0.5), "p95": pct(0.95),
                   "max": lengths[-1] if lengths else 0},
        "histogram": histogram(lengths, cutoff),
        "packed_rows": stats.packed_rows,
        "pad_tokens": stats.pad_tokens,
        "pad_fraction": stats.pad_fraction,
        "cached": stats.cached,
    }
