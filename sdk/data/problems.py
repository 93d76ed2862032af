"""Bad rows and what became of every row: nothing is dropped without being counted.

A row that does not fit its format becomes a `Problem` (file, row number, reason, detail). With
``on_error: raise`` the first five are listed in one `DataError`; with ``skip`` they are dropped and
counted per reason. Rows cut by ``cutoff_len`` or too long to keep are counted in `Stats` as well, so
`dayzero data stats` can show where every input row went.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from dayzero.errors import DataError

SHOWN = 5  # problems listed in a raised error and kept as examples per reason
TEMPLATE = "template"  # the reason of a row the family's chat template refuses (`on_unsupported` decides)
UNSUPPORTED_HINT = ("the family's chat format cannot express these rows (see `dayzero template caps`); "
                    "drop them with `on_unsupported: skip`")


@dataclass(frozen=True)
class Origin:
    """Where a row came from: a file (or hub id) and its 1-based row number; `line` when the file has lines."""

    file: str
    row: int
    line: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        return f"{self.file} row {self.row}"


@dataclass(frozen=True)
class Problem:
    """One bad row: where it is, a short reason (counted), and what exactly was wrong."""

    origin: Origin
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}: {self.detail}"


class RowError(Exception):
    """Raised by a row converter; turned into a `Problem` with the row's origin by the caller."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Stats:
    """What happened to the rows of one preparation; returned with the dataset and stored in the cache."""

    rows_read: int = 0  # rows read from the sources (after num_samples / max_samples)
    rows_kept: int = 0  # tokenized rows (before packing), train + eval
    train_rows: int = 0
    eval_rows: int = 0
    problems: Counter[str] = field(default_factory=Counter)  # format problems per reason (skipped rows)
    examples: list[str] = field(default_factory=list)  # the first few problems, rendered
    truncated: int = 0  # rows cut to cutoff_len
    turns_dropped: int = 0  # assistant turns not kept whole by truncation
    too_long: int = 0  # rows dropped for cutoff_len (by `truncation: drop | turns`, or no trained token fits)
    no_labels: int = 0  # rows dropped: no token left to train (every reply marked `train: false`)
    split_docs: int = 0  # pt: documents longer than cutoff_len, split into several rows
    tokens: int = 0  # tokens in kept rows
    trained_tokens: int = 0  # tokens with a label
    lengths: list[int] = field(default_factory=list)  # token length of each kept row
    packed_rows: int | None = None  # rows after packing, when packing
    pad_tokens: int | None = None  # pad tokens added by packing
    cached: bool = False  # this result was read from the cache

    @property
    def pad_fraction(self) -> float | None:
        """Pad tokens over all tokens in packed rows (None when not packed)."""
        if self.packed_rows is None or self.pad_tokens is None:
            return None
        total = self.tokens + self.pad_tokens
        return self.pad_tokens / total if total else 0.0

    def merge(self, other: Stats) -> None:
        """Add another chunk's counts (used when chunks are tokenized in several processes)."""
        for name in ("rows_kept", "truncated", "turns_dropped", "too_long", "no_labels", "split_docs", "tokens", "trained_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.update(other.problems)
        self.examples.extend(other.examples[: max(0, SHOWN - len(self.examples))])
        self.lengths.extend(other.lengths)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = dict(self.problems)
        data["pad_fraction"] = self.pad_fraction
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stats:
        data = dict(data)
        data.pop("pad_fraction", None)
        data["problems"] = Counter(data.get("problems", {}))
        return cls(**data)


class ProblemLog:
    """Collects problems while rows are read; decides at the end whether they are fatal."""

    def __init__(self, on_error: str) -> None:
        self.on_error = on_error
        self.first: list[Problem] = []
        self.count: Counter[str] = Counter()

    def add(self, problem: Problem) -> None:
        self.count[problem.reason] += 1
        if len(self.first) < SHOWN:
            self.first.append(problem)

    def raise_if_fatal(self, what: str = "bad rows", hint: str | None = None) -> None:
        """With `on_error: raise`, one DataError listing the first five problems and the total."""
        total = sum(self.count.values())
        if self.on_error != "raise" or not total:
            return
        listed = "; ".join(str(p) for p in self.first)
        per_reason = ", ".join(f"{reason}: {n}" for reason, n in self.count.most_common())
        raise DataError(
            f"{total} {what} ({per_reason}): {listed}",
            hint=hint or "fix the rows, or set `on_error: skip` to drop them (they are counted in the stats)",
        )

    def into(self, stats: Stats) -> None:
        stats.problems.update(self.count)
        for problem in self.first:
            if len(stats.examples) < SHOWN:
                stats.examples.append(str(problem))
