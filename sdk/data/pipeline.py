"""`prepare()`: a recipe's `data:` section, a template and a tokenizer in; training rows and their stats out.

Read top to bottom: resolve the dataset references, read and convert rows (bad ones reported), mix,
cut the validation split, tokenize per stage (in `num_proc` processes), pack, and cache the result.
With ``streaming`` the same steps run lazily and an ``IterableDataset`` comes back.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from dayzero.errors import DataError

from . import cache
from .columns import to_dataset
from .formats import converter, sniff_format
from .mix import mix, val_indices
from .packing import iter_packed, pack_into
from .preprocess import STAGE_COLUMNS, Item, Options, Preprocessor, paused_gc
from .problems import SHOWN, TEMPLATE, UNSUPPORTED_HINT, Origin, Problem, ProblemLog, RowError, Stats
from .sources import fingerprint, iter_file, iter_source, local_files
from .spec import STAGE_KIND, Catalog, DataConfig, DatasetSpec, Format, Kind, bundled_catalog, load_catalog

CHUNK = 512  # rows per tokenizer call


@dataclass
class Prepared:
    """Training rows (a Dataset, or an IterableDataset when streaming), validation rows, and the stats."""

    train: Any
    eval: Any
    stats: Stats
    columns: tuple[str, ...]
    cache_path: Path | None = None


def catalog_for(config: DataConfig, base_dir: Path | None) -> Catalog:
    if config.catalog is None:
        return bundled_catalog()
    path = Path(config.catalog)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return load_catalog(path)


def resolve_specs(config: DataConfig, stage: str, base_dir: Path | None = None) -> list[DatasetSpec]:
    """Each `datasets:` entry as a spec: a catalog name, a file path (format read from its first row), or inline."""
    kind = STAGE_KIND[stage]
    specs: list[DatasetSpec] = []
    catalog: Catalog | None = None
    for ref in config.datasets:
        if isinstance(ref, DatasetSpec):
            spec = ref.resolved(base_dir)
        else:
            catalog = catalog or catalog_for(config, base_dir)
            if ref in catalog.datasets:
                spec = catalog.get(ref)
            else:
                path = Path(ref) if Path(ref).is_absolute() or base_dir is None else base_dir / ref
                spec = _bare_file_spec(str(path), kind, ref)
        usable = (kind == Kind.kto and spec.kind == Kind.preference) or (kind == Kind.prompt and spec.kind != Kind.text)
        if spec.kind != kind and not usable:
            raise DataError(f"dataset {spec.label!r} holds {spec.kind} rows; stage `{stage}` needs {kind} rows",
                            hint="pick a dataset of the right kind, or set `kind:` in its spec")
        specs.append(spec)
    return specs


def _bare_file_spec(path: str, kind: Kind, ref: str) -> DatasetSpec:
    if not any(ch in path for ch in "*?[") and not Path(path).exists():
        raise DataError(f"{ref!r} is neither a dataset in the catalog nor an existing file",
                        hint="`dayzero data list` shows the catalog")
    first = next(iter_file(local_files(path)[0]), None)
    if first is None or isinstance(first[1], RowError):
        raise DataError("cannot read a first row to tell the format", hint="give a dataset spec with `format:`")
    try:
        fmt = sniff_format(first[1])
    except RowError as exc:
        raise DataError(exc.detail, hint="give a dataset spec with `format:`") from None
    return DatasetSpec(name=ref, path=path, format=fmt, kind=Kind.text if fmt == Format.text else kind)


def read(
    spec: DatasetSpec, stage: str, log: ProblemLog, limit: int | None, streaming: bool,
    placeholders: dict[str, str] | None = None,
) -> Iterator[Item]:
    """Canonical rows of one dataset; rows that do not fit go to `log` with their origin."""
    convert = converter(spec)
    if placeholders:
        convert = _filling(convert, placeholders)
    unpair = STAGE_KIND[stage] == Kind.kto and spec.kind == Kind.preference
    for origin, raw in islice(iter_source(spec, streaming=streaming), limit):
        if isinstance(raw, RowError):
            log.add(Problem(origin, raw.reason, raw.detail))
            continue
        try:
            row = convert(raw)
        except RowError as exc:
            log.add(Problem(origin, exc.reason, exc.detail))
            continue
        if unpair:  # a preference pair is two kto rows, as TRL's unpair_preference_dataset makes them
            for name, label in (("chosen", True), ("rejected", False)):
                yield origin, {"prompt": row["prompt"], "completion": row[name], "label": label,
                               "tools": row.get("tools")}
        else:
            yield origin, row


def _filling(convert: Any, placeholders: dict[str, str]) -> Any:
    """`convert`, then `{{key}}` -> value in every message text (the identity set's name and author)."""
    pairs = [("{{" + k + "}}", v) for k, v in placeholders.items()]

    def fill(text: str) -> str:
        for key, value in pairs:
            text = text.replace(key, value)
        return text

    def run(raw: dict[str, Any]) -> dict[str, Any]:
        row = convert(raw)
        for name in ("messages", "prompt", "chosen", "rejected", "completion"):
            for message in row.get(name) or ():
                message["content"] = fill(message["content"])
        if "text" in row:
            row["text"] = fill(row["text"])
        return row

    return run


def _limit(spec: DatasetSpec, config: DataConfig) -> int | None:
    caps = [n for n in (spec.num_samples, config.max_samples) if n]
    return min(caps) if caps else None


def prepare(
    config: DataConfig, *, stage: str, template: Any, tokenizer: Any, base_dir: Path | None = None
) -> Prepared:
    """Rows for `stage` ("sft", "pt", "rm", "dpo", "orpo", "simpo", "kto"); see `preprocess` for columns."""
    if stage not in STAGE_COLUMNS:
        raise DataError(f"unknown stage {stage!r}", hint=f"one of {', '.join(STAGE_COLUMNS)}")
    packing = config.packing if config.packing is not None else stage == "pt"
    if packing and stage not in ("sft", "pt"):
        raise DataError(f"packing applies to sft and pt rows, not to stage `{stage}`", hint="set `packing: false`")
    options = Options(stage, config.cutoff_len, config.train_on_prompt, config.mask_history, config.thinking, packing,
                      config.truncation)
    specs = resolve_specs(config, stage, base_dir)
    if config.streaming:
        return _prepare_streaming(config, specs, options, template, tokenizer)

    key = None
    if config.cache_dir:
        key = cache.cache_key({
            "datasets": [fingerprint(s) for s in specs], "tokenizer": cache.tokenizer_hash(tokenizer),
            "template": cache.template_hash(template, config.thinking), "options": options.__dict__,
            "config": config.model_dump(mode="json", exclude={"cache_dir", "num_proc", "streaming"}),
        })
        hit = cache.load(Path(config.cache_dir), key)
        if hit is not None:
            return Prepared(hit[0], hit[1], hit[2], STAGE_COLUMNS[stage], Path(config.cache_dir) / key)

    with paused_gc():
        return _prepare_in_memory(config, specs, options, template, tokenizer, key)


def _prepare_in_memory(
    config: DataConfig, specs: list[DatasetSpec], options: Options, template: Any, tokenizer: Any, key: str | None
) -> Prepared:
    stage, packing = options.stage, options.packing
    log = ProblemLog(config.on_error)
    streams = [read(s, stage, log, _limit(s, config), False, config.placeholders) for s in specs]
    items = list(mix(streams, config.mix, config.weights, config.seed))
    log.raise_if_fatal()
    held_out = val_indices(len(items), config.val_size, config.seed)
    train_items = [it for i, it in enumerate(items) if i not in held_out]
    eval_items = [it for i, it in enumerate(items) if i in held_out]

    stats = Stats(rows_read=len(items))
    refused = ProblemLog(config.on_unsupported)
    train_cols = tokenize(train_items, template, tokenizer, options, config.num_proc, stats, log, refused)
    eval_cols = (tokenize(eval_items, template, tokenizer, options, config.num_proc, stats, log, refused)
                 if eval_items else None)
    log.raise_if_fatal()
    refused.raise_if_fatal("rows the chat template cannot render", hint=UNSUPPORTED_HINT)
    log.into(stats)
    refused.into(stats)
    stats.train_rows = len(next(iter(train_cols.values())))
    stats.eval_rows = len(next(iter(eval_cols.values()))) if eval_cols else 0
    if not stats.train_rows:
        raise DataError(
            f"no training rows left of {stats.rows_read} read: {stats.too_long} too long for cutoff_len "
            f"{config.cutoff_len}, {stats.no_labels} with nothing to train, {sum(stats.problems.values())} bad",
            hint="raise `cutoff_len`, or check the data with `dayzero data stats`",
        )
    pad_id = _pad_id(tokenizer)
    if packing:
        train_cols = pack_into(stats, train_cols, config.cutoff_len, pad_id)
        if eval_cols:
            eval_cols = pack_into(stats, eval_cols, config.cutoff_len, pad_id)

    train = to_dataset(train_cols, key and f"{key}-train")
    evaluation = to_dataset(eval_cols, key and f"{key}-eval") if eval_cols else None
    path = None
    if config.cache_dir and key:
        manifest = {"stage": stage, "datasets": [s.model_dump(mode="json") for s in specs]}
        path = cache.store(Path(config.cache_dir), key, train, evaluation, stats, manifest)
    return Prepared(train, evaluation, stats, tuple(train_cols), path)


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise DataError("the tokenizer has neither a pad nor an eos token to pad packed rows with")
    return int(pad)


# -- tokenizing, in one process or several --------------------------------------------------------------

_WORKER: Preprocessor | None = None


def _init_worker(pre: Preprocessor) -> None:
    global _WORKER
    _WORKER = pre


def _run_chunk(chunk: list[Item]) -> tuple[dict[str, list], Stats, list[Problem]]:
    assert _WORKER is not None
    return _WORKER(chunk)


def tokenize(
    items: list[Item], template: Any, tokenizer: Any, options: Options, num_proc: int, stats: Stats, log: ProblemLog,
    refused: ProblemLog | None = None,
) -> dict[str, list]:
    """Columns for `items`, tokenized in chunks; chunk stats are merged into `stats`, problems into `log`
    (rows the template refuses into `refused`, when given)."""
    pre = Preprocessor(template, tokenizer, options)
    size = max(64, min(CHUNK, -(-len(items) // (num_proc * 4)))) if num_proc > 1 else CHUNK
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    if num_proc > 1 and len(chunks) > 1:
        ctx = multiprocessing.get_context("fork")  # the worker inherits the tokenizer and template
        with ctx.Pool(min(num_proc, len(chunks)), initializer=_init_worker, initargs=(pre,)) as pool:
            results = pool.map(_run_chunk, chunks)
    else:
        results = [pre(chunk) for chunk in chunks]
    columns: dict[str, list] = {c: [] for c in pre.columns}
    for cols, chunk_stats, problems in results:
        for name, values in cols.items():
            columns[name].extend(values)
        stats.merge(chunk_stats)
        for problem in problems:
            (refused if refused is not None and problem.reason == TEMPLATE else log).add(problem)
    return columns


# -- streaming -------------------------------------------------------------------------------------------


def _prepare_streaming(
    config: DataConfig, specs: list[DatasetSpec], options: Options, template: Any, tokenizer: Any
) -> Prepared:
    import datasets

    stats = Stats()
    pre = Preprocessor(template, tokenizer, options)
    n_eval = int(config.val_size)

    def items() -> Iterator[Item]:
        log = ProblemLog(config.on_error)
        streams = [read(s, options.stage, log, _limit(s, config), True, config.placeholders) for s in specs]
        for item in mix(streams, config.mix, config.weights, config.seed):
            log.raise_if_fatal()
            yield item
        log.raise_if_fatal()
        log.into(stats)

    def rows(skip: int, take: int | None) -> Iterator[dict[str, Any]]:
        source = islice(items(), skip, None if take is None else skip + take)
        while chunk := list(islice(source, CHUNK)):
            stats.rows_read += len(chunk)
            cols, chunk_stats, problems = pre(chunk)
            stats.merge(chunk_stats)
            for p in problems:
                fatal = ProblemLog(config.on_unsupported if p.reason == TEMPLATE else config.on_error)
                fatal.add(p)
                fatal.raise_if_fatal()
            stats.problems.update(p.reason for p in problems)
            stats.examples.extend(str(p) for p in problems[: max(0, SHOWN - len(stats.examples))])
            names = list(cols)
            for values in zip(*cols.values(), strict=True):
                yield dict(zip(names, values, strict=True))

    def train_rows() -> Iterator[dict[str, Any]]:
        produced = rows(n_eval, None)
        if options.packing:
            samples = ((r["input_ids"], r["labels"]) for r in produced)
            yield from iter_packed(samples, options.cutoff_len, _pad_id(tokenizer), stats=stats)
        else:
            yield from produced

    train = datasets.IterableDataset.from_generator(train_rows)
    evaluation = datasets.Dataset.from_list(list(rows(0, n_eval))) if n_eval else None
    return Prepared(train, evaluation, stats, STAGE_COLUMNS[options.stage])


__all__ = ["Origin", "Prepared", "prepare", "read", "resolve_specs", "tokenize"]
