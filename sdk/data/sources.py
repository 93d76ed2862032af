"""Where rows come from: local files, folders and globs; Hugging Face datasets; ModelScope datasets.

Every source yields ``(Origin, row)`` pairs lazily, so a file larger than memory can be streamed, and
every row keeps its file and row number for problem reports. A row that cannot even be parsed (a bad
JSON line) is yielded as a `RowError` in place of the row, so one bad line does not hide the others.

- Local: ``.jsonl`` line by line, ``.csv`` with the csv module, ``.parquet`` batch by batch with pyarrow,
  ``.txt`` one document per line, ``.json`` as one array (a JSON-lines file named ``.json`` is read as
  lines). Folders are walked recursively in sorted order; globs are expanded in sorted order.
- Hugging Face: ``datasets.load_dataset`` (with ``streaming=`` when streaming). The library's offline mode
  (``HF_DATASETS_OFFLINE=1``) is respected: a dataset not in the cache fails with a DataError saying so.
- ModelScope: ``dataset_snapshot_download`` fetches the dataset repository's files (or finds them in its
  cache) and they are read as local files. ``MsDataset.load`` is not used: it needs the
  ``modelscope[datasets]`` extras (addict, oss2, ...), which dayzero does not install.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dayzero.errors import DataError, Where
from dayzero.yamlio import decode_utf8, loads_json

from .problems import Origin, RowError
from .spec import DatasetSpec

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".txt")

RawItem = tuple[Origin, "dict[str, Any] | RowError"]


def local_files(path: str) -> list[Path]:
    """The data files a `path:` names: a file, every data file under a folder, or a glob's matches."""
    p = Path(path).expanduser()
    if any(ch in path for ch in "*?["):
        matches = [Path(m) for m in sorted(glob.glob(str(p), recursive=True))]
        files = [m for m in matches if m.is_file() and m.suffix.lower() in SUFFIXES]
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
    elif p.is_file():
        if p.suffix.lower() not in SUFFIXES:
            raise DataError(f"unsupported data file type `{p.suffix}`", where=Where(file=str(p)),
                            hint=f"use one of {', '.join(SUFFIXES)}")
        files = [p]
    else:
        raise DataError("no such file or folder", where=Where(file=str(p)))
    if not files:
        raise DataError(f"no {'/'.join(SUFFIXES)} files found", where=Where(file=str(p)))
    return files


def iter_file(path: Path) -> Iterator[RawItem]:
    """The rows of one local file, lazily, each with its origin (line numbers for .jsonl and .csv)."""
    suffix = path.suffix.lower()
    name = str(path)
    if suffix == ".jsonl" or (suffix == ".json" and _looks_like_lines(path)):
        yield from _iter_jsonl(path, name)
    elif suffix == ".json":
        data = loads_json(decode_utf8(path.read_bytes(), name, DataError), name, DataError)
        if not isinstance(data, list):
            raise DataError("a .json data file must hold a list of rows", where=Where(file=name),
                            hint="or write one JSON object per line in a .jsonl file")
        for i, row in enumerate(data, 1):
            yield Origin(name, i), row
    elif suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
            reader = csv.DictReader(handle)
            for i, row in enumerate(reader, 1):
                yield Origin(name, i, reader.line_num), _utf8_row(dict(row))
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        row_no = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                row_no += 1
                yield Origin(name, row_no), row
    elif suffix == ".txt":  # one document per non-blank line, as a `text` column
        with path.open(encoding="utf-8-sig", errors="surrogateescape") as handle:
            row_no = 0
            for line_no, line in enumerate(handle, 1):
                if line.strip():
                    row_no += 1
                    yield Origin(name, row_no, line_no), _utf8_row({"text": line.rstrip("\n")})
    else:  # pragma: no cover - local_files filters suffixes
        raise DataError(f"unsupported data file type `{suffix}`", where=Where(file=name))


def _utf8_row(row: dict[str, Any]) -> dict[str, Any] | RowError:
    """A text row read with ``surrogateescape``: invalid UTF-8 bytes make it a row problem."""
    for key, value in row.items():
        for text in (key, value):
            if isinstance(text, str) and not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    return RowError("bad_encoding", f"column {key!r}: not UTF-8 text")
    return row


def _looks_like_lines(path: Path) -> bool:
    """A `.json` file whose first non-blank character opens an object holds JSON lines, not an array."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        # Read in blocks, not lines: a JSON array written by json.dump is one line, the whole file.
        while block := handle.read(1 << 16):
            if text := block.lstrip():
                return text.startswith("{")
    return False


def _iter_jsonl(path: Path, name: str) -> Iterator[RawItem]:
    """Rows of a JSON-lines file. A row that is not UTF-8, not JSON, nested past the parser's depth or
    holds a number past Python's digit limit is a row problem (``on_error`` decides), never a crash;
    a byte-order mark before the first row is skipped."""
    with path.open("rb") as handle:
        row_no = 0
        for line_no, raw in enumerate(handle, 1):
            if line_no == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            row_no += 1
            yield Origin(name, row_no, line_no), _json_row(raw)


def _json_row(raw: bytes) -> dict[str, Any] | RowError:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RowError("bad_encoding", f"not UTF-8: byte {raw[exc.start]:#04x} at column {exc.start + 1}")
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return RowError("bad_json", f"not valid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return RowError("bad_json", "JSON nested too deeply")
    except ValueError as exc:  # an integer past sys.get_int_max_str_digits()
        return RowError("bad_json", f"JSON not readable: {exc}")


def iter_source(spec: DatasetSpec, *, streaming: bool = False) -> Iterator[RawItem]:
    """The raw rows of a dataset spec, whichever source it names."""
    if spec.path:
        for file in local_files(spec.path):
            yield from iter_file(file)
    elif spec.hf:
        yield from _iter_hf(spec, streaming=streaming)
    else:
        yield from _iter_modelscope(spec)


def _iter_hf(spec: DatasetSpec, *, streaming: bool) -> Iterator[RawItem]:
    import datasets

    kwargs: dict[str, Any] = {"split": spec.split, "streaming": streaming}
    if spec.subset:
        kwargs["name"] = spec.subset
    if spec.revision:
        kwargs["revision"] = spec.revision
    if spec.data_files:
        kwargs["data_files"] = list(spec.data_files)
    label = f"hf:{spec.hf}"
    try:
        ds = datasets.load_dataset(spec.hf, **kwargs)
    except (ConnectionError, FileNotFoundError, OSError, ValueError) as exc:
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = ("offline mode is on and the dataset is not in the local cache; run once online, or point "
                "`path:` at local files") if offline else "check the dataset id, subset, split and your network"
        raise DataError(f"cannot load Hugging Face dataset {spec.hf!r}: {type(exc).__name__}: {exc}",
                        where=Where(file=label), hint=hint) from None
    for i, row in enumerate(ds, 1):
        yield Origin(label, i), row


def _iter_modelscope(spec: DatasetSpec) -> Iterator[RawItem]:
    import importlib

    # the module itself (its package re-exports a function of the same name over it)
    snapshot = importlib.import_module("modelscope.hub.snapshot_download")
    assert spec.ms is not None
    try:
        root = snapshot.dataset_snapshot_download(
            spec.ms, revision=spec.revision, allow_patterns=list(spec.data_files) if spec.data_files else None
        )
    except (ConnectionError, OSError) as exc:
        raise DataError(f"cannot fetch ModelScope dataset {spec.ms!r}: {exc}", where=Where(file=f"ms:{spec.ms}"),
                        hint="ModelScope is unreachable and the dataset is not cached; download its files and "
                        "use `path:`") from None
    base = Path(root)
    if spec.subset and (base / spec.subset).is_dir():
        base = base / spec.subset
    files = local_files(str(base))
    split_files = [f for f in files if spec.split in f.stem or spec.split in f.parent.name]
    for file in split_files or files:
        yield from iter_file(file)


def fingerprint(spec: DatasetSpec) -> str:
    """A short hash that changes when the dataset's rows may have: local files' sizes and mtimes, hub ids.

    A hub dataset is known by its spec only: pin `revision` for a cache that follows the hub, or clear
    the cache after the dataset changed upstream.
    """
    h = hashlib.sha256(spec.model_dump_json().encode())
    if spec.path:
        for file in local_files(spec.path):
            st = file.stat()
            h.update(f"{file.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
