"""Prompt rows for online RL and evaluation: any prompt-bearing dataset in, prompts and references out.

A GRPO rollout and a `dayzero eval` generation both start from a prompt, and both score against a
reference where the data has one. Every kind of row but plain text carries a prompt:

- prompt:     the prompt (and the reference reply, when the row has one: see `formats`);
- sft:        the conversation up to its last assistant reply, which is the reference;
- preference: the prompt, the chosen reply as the reference;
- kto:        the prompt, the completion as the reference when it is labelled desirable.

Rows are read, mixed and split into train/held-out exactly as `pipeline.prepare` does (same converter,
same `val_indices`), so `dayzero eval RUN` scores the very prompts an SFT run held out. Columns that a
reward names (`rl.rewards[].column`) are carried from the raw row. `render` turns prompts into the
text the family template writes with the generation prompt: what a server renders, tools and thinking
included, so a rollout sees exactly what serving will show the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from dayzero.errors import DataError, DayzeroError

from .formats import converter
from .mix import mix, val_indices
from .pipeline import _filling, _limit, resolve_specs
from .problems import TEMPLATE, UNSUPPORTED_HINT, Origin, Problem, ProblemLog, RowError, Stats
from .sources import iter_source
from .spec import DataConfig, DatasetSpec, Kind

REFERENCE = "reference"  # the column rewards and metrics compare against by default


@dataclass
class PromptRow:
    """One prompt: its messages and tools, its reference reply (if any), and carried raw columns."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    reference: str | None
    origin: Origin
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prompts:
    train: list[PromptRow]
    held_out: list[PromptRow]
    stats: Stats


def as_prompt(row: dict[str, Any], kind: str) -> tuple[list[dict[str, Any]], str | None]:
    """(prompt messages, reference) of a canonical row of `kind`."""
    if kind == Kind.prompt:
        return row["prompt"], row.get("reference")
    if kind == Kind.sft:
        messages = row["messages"]
        cut = len(messages)
        while cut and messages[cut - 1]["role"] == "assistant":
            cut -= 1
        return messages[:cut], messages[-1]["content"]
    if kind == Kind.preference:
        return row["prompt"], row["chosen"][-1]["content"]
    if kind == Kind.kto:
        return row["prompt"], row["completion"][-1]["content"] if row["label"] else None
    raise DataError(
        f"{kind} rows carry no prompt", hint="use a dataset of kind prompt, sft, preference or kto"
    )


def read_prompts(config: DataConfig, *, base_dir: Path | None = None, columns: Sequence[str] = ()) -> Prompts:
    """The recipe's datasets as prompt rows, split into train and held-out (`val_size`) as training splits."""
    if config.streaming:
        raise DataError(
            "online RL and evaluation read their prompts into memory; `streaming` does not apply",
            hint="set `data.streaming: false`",
        )
    specs = resolve_specs(config, "grpo", base_dir)
    log = ProblemLog(config.on_error)
    streams = [_rows(spec, config, log, tuple(columns)) for spec in specs]
    items = list(mix(streams, config.mix, config.weights, config.seed))
    log.raise_if_fatal()
    held = val_indices(len(items), config.val_size, config.seed)
    stats = Stats(rows_read=len(items))
    log.into(stats)
    train = [row for i, row in enumerate(items) if i not in held]
    held_out = [row for i, row in enumerate(items) if i in held]
    stats.train_rows, stats.eval_rows = len(train), len(held_out)
    return Prompts(train, held_out, stats)


def _rows(
    spec: DatasetSpec, config: DataConfig, log: ProblemLog, columns: tuple[str, ...]
) -> Iterator[PromptRow]:
    convert = converter(spec)
    if config.placeholders:
        convert = _filling(convert, config.placeholders)
    for origin, raw in islice(iter_source(spec), _limit(spec, config)):
        if isinstance(raw, RowError):
            log.add(Problem(origin, raw.reason, raw.detail))
            continue
        try:
            row = convert(raw)
            messages, reference = as_prompt(row, str(spec.kind))
            missing = [c for c in columns if c not in raw]
            if missing:
                raise RowError("missing_column", f"no column `{missing[0]}` (a reward compares against it)")
        except RowError as exc:
            log.add(Problem(origin, exc.reason, exc.detail))
            continue
        yield PromptRow(messages, row.get("tools"), reference, origin, {c: raw[c] for c in columns})


def render(
    rows: Sequence[PromptRow],
    template: Any,
    *,
    thinking: str | None,
    on_unsupported: str = "skip",
    stats: Stats | None = None,
) -> list[tuple[PromptRow, str]]:
    """Each row with its prompt text (generation prompt included); rows the template refuses are skipped
    and counted as `template` problems, or raised with `on_unsupported: raise`."""
    refused = ProblemLog(on_unsupported)
    out: list[tuple[PromptRow, str]] = []
    for row in rows:
        try:
            text = template.render(
                row.messages, tools=row.tools, add_generation_prompt=True, thinking=thinking
            )
        except DayzeroError as exc:
            refused.add(Problem(row.origin, TEMPLATE, exc.message))
            continue
        out.append((row, text))
    refused.raise_if_fatal("rows the chat template cannot render", hint=UNSUPPORTED_HINT)
    if stats is not None:
        refused.into(stats)
    return out


def trainer_rows(rendered: Sequence[tuple[PromptRow, str]]) -> dict[str, list[Any]]:
    """Columns for TRL's GRPOTrainer: `prompt` is the rendered text (TRL then applies no template of its
    own); every other column reaches the reward functions as a keyword argument."""
    cols: dict[str, list[Any]] = {"prompt": [], REFERENCE: [], "messages": [], "tools": []}
    for name in rendered[0][0].extra if rendered else ():
        cols[name] = []
    for row, text in rendered:
        cols["prompt"].append(text)
        cols[REFERENCE].append(row.reference)
        cols["messages"].append(json.dumps(row.messages, ensure_ascii=False))
        cols["tools"].append(json.dumps(row.tools, ensure_ascii=False) if row.tools else None)
        for name, value in row.extra.items():
            cols[name].append(
                value if isinstance(value, str | int | float | bool) or value is None else json.dumps(value)
            )
    return cols
