"""Datasets: formats, sources, preprocessing and packing.

Public API::

    from dayzero.sdk.data import DataConfig, DatasetSpec, Catalog, load_catalog, bundled_catalog, prepare

    config = DataConfig(datasets=["demo_sft", {"path": "my.jsonl", "format": "sharegpt"}], cutoff_len=1024)
    prepared = prepare(config, stage="sft", template=ChatTemplate.for_family(family), tokenizer=tok,
                       base_dir=recipe_dir)          # -> Prepared(train, eval, stats, columns, cache_path)
    prepared.train                                    # datasets.Dataset (IterableDataset when streaming)
    prepared.stats                                    # Stats: rows, problems per reason, truncation, packing

Modules: ``spec`` (the pydantic specs and catalog), ``formats`` (layouts -> canonical rows), ``sources``
(local files, Hugging Face, ModelScope), ``preprocess`` (per-stage tokens and labels), ``packing``,
``mix``, ``cache``, ``problems``, ``pipeline`` (``prepare``), ``report`` (what ``dayzero data preview|stats``
show), ``prompts`` (prompt rows for online RL and evaluation), ``testing`` (a tokenizer with hand-countable ids). Importing this package loads only the specs
(pydantic); datasets, numpy and the templates are imported when `prepare` is first used.

With ``streaming``, ``prepared.train`` is an ``IterableDataset`` and ``prepared.stats`` fills in as it is
iterated. Packed rows carry ``position_ids`` and no attention mask; train them with ``use_cache=False``
(see ``packing``).
"""

from __future__ import annotations

from typing import Any

from .spec import (
    STAGE_KIND,
    Catalog,
    Columns,
    DataConfig,
    DatasetSpec,
    Format,
    Kind,
    Tags,
    bundled_catalog,
    bundled_catalog_path,
    load_catalog,
)

__all__ = [
    "STAGE_KIND",
    "Catalog",
    "Columns",
    "DataConfig",
    "DatasetSpec",
    "Format",
    "Kind",
    "Prepared",
    "Stats",
    "Tags",
    "bundled_catalog",
    "bundled_catalog_path",
    "load_catalog",
    "prepare",
]

_LAZY = {"prepare": "pipeline", "Prepared": "pipeline", "Stats": "problems"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
