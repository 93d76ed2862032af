"""SFT rows with images for a vision-language family: read, image-checked, rendered, expanded, tokenized.

The layouts are the text ones (`formats.py`) plus where images live:

- OpenAI / TRL messages: content parts ``{"type": "image_url", "image_url": {"url": ...}}`` or
  ``{"type": "image", "image": ...}`` next to ``{"type": "text"}`` parts;
- LLaMA-Factory (sharegpt or openai layout): ``<image>`` markers in the text and an ``images`` column with
  one path (or data URI) per marker, in order.

Paths are relative to the data file's folder. A bad image (missing file, URL, not an image, too large), a
marker count that disagrees with the ``images`` column, or a row too long to keep whole (cutting through
image tokens would misalign them with the image features) is a row problem: file:line, which image, why;
`on_error` decides whether it is fatal, and skipped rows are counted.

Rows carry ``input_ids``, ``labels`` (image tokens -100), ``pixel_values``, ``image_grid_thw`` (grid families)
and ``mm_token_type_ids`` (families whose forward needs them); `sdk.train.vision.VisionCollator` batches them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dayzero.errors import DataError, DayzeroError

from ..images import ImageError, load_image
from .formats import converter, resolved_columns, resolved_tags
from .problems import Origin, Problem, ProblemLog, RowError, Stats

if TYPE_CHECKING:
    from dayzero.registry.schema import Family

    from .spec import DataConfig, DatasetSpec

__all__ = ["IMAGES_COLUMN", "encode_row", "markers_from_parts", "prepare_vision", "read_vision_rows"]

IMAGES_COLUMN = "images"


def markers_from_parts(raw: dict[str, Any], spec: DatasetSpec) -> dict[str, Any]:
    """The raw row with image parts turned into ``<image>`` markers and their references appended to `images`.

    After this, every layout is LLaMA-Factory's (markers + an images column), and the text converter reads
    the row as it reads any text row.
    """
    from dayzero.sdk.templates.vision import MARKER, _is_image_part

    fmt = str(spec.format)
    cols = resolved_columns(fmt, spec.columns)
    tags = resolved_tags(fmt, spec.tags)
    key = cols.get("messages")
    turns = raw.get(key) if key else None
    if not isinstance(turns, list):
        return raw
    content_tag = tags.get("content_tag") or "content"
    images = raw.get(IMAGES_COLUMN) or []
    if not isinstance(images, list):
        raise RowError("bad_type", f"column `{IMAGES_COLUMN}` must be a list of image paths or data URIs")
    row = copy.copy(raw)
    row[IMAGES_COLUMN] = list(images)
    new_turns = []
    for turn in turns:
        content = turn.get(content_tag) if isinstance(turn, dict) else None
        if isinstance(content, list) and any(_is_image_part(p) for p in content):
            if any(MARKER in str(p.get("text", "")) for p in content if isinstance(p, dict)):
                raise RowError(
                    "image_markers", "a row mixes image parts and `<image>` markers; use one of them"
                )
            texts = []
            for part in content:
                if _is_image_part(part):
                    row[IMAGES_COLUMN].append(part)
                    texts.append({"type": "text", "text": MARKER})
                else:
                    texts.append(part)
            turn = {**turn, content_tag: texts}
        new_turns.append(turn)
    row[key] = new_turns
    return row


def read_vision_rows(
    spec: DatasetSpec, log: ProblemLog, limit: int | None
) -> Iterator[tuple[Origin, dict[str, Any]]]:
    """Canonical sft rows with their image references (``images``), bad rows to ``log``."""
    from .sources import iter_source

    convert = converter(spec)
    for origin, raw in islice(iter_source(spec), limit):
        if isinstance(raw, RowError):
            log.add(Problem(origin, raw.reason, raw.detail))
            continue
        try:
            prepared = markers_from_parts(raw, spec) if isinstance(raw, dict) else raw
            row = convert(prepared)
        except RowError as exc:
            log.add(Problem(origin, exc.reason, exc.detail))
            continue
        row[IMAGES_COLUMN] = prepared.get(IMAGES_COLUMN) or [] if isinstance(prepared, dict) else []
        yield origin, row


def encode_row(
    row: dict[str, Any],
    family: Family,
    template: Any,
    tokenizer: Any,
    processor: Any,
    *,
    base_dir: Path | None,
    cutoff_len: int | None = None,
    train_on_prompt: bool = False,
    mask_history: bool = False,
    model_config: Any = None,
) -> dict[str, Any]:
    """One canonical row (messages + images) as trainer columns; raises `RowError` naming the bad image."""
    from dayzero.sdk.templates.vision import encode_with_images, flatten, image_token_count, mm_token_type_ids

    vision = family.vision
    assert vision is not None
    try:
        messages, refs = flatten(row["messages"], vision, row.get(IMAGES_COLUMN))
    except DayzeroError as exc:
        raise RowError("image_markers", exc.message) from None
    images = []
    for k, ref in enumerate(refs, 1):
        try:
            images.append(load_image(ref, base_dir=base_dir))
        except ImageError as exc:
            raise RowError(exc.reason, f"image {k} of {len(refs)}: {exc.message}") from None
    processed: dict[str, Any] = {}
    if images:
        processed = dict(processor(images=images, return_tensors="np"))
    counts = [image_token_count(vision, processed, k, model_config) for k in range(len(images))]
    try:
        enc = encode_with_images(
            template,
            messages,
            tokenizer,
            vision,
            counts,
            tools=row.get("tools"),
            train_on_prompt=train_on_prompt,
            mask_history=mask_history,
        )
    except DayzeroError as exc:
        raise RowError("template", exc.message) from None
    if cutoff_len is not None and len(enc.input_ids) > cutoff_len:
        why = (
            "with its image tokens; a row with images is never cut: the image tokens must match the image features"
            if images
            else "; rows of a vision-language family are not cut (dayzero's image rows have no truncation)"
        )
        raise RowError("too_long", f"{len(enc.input_ids)} tokens, over cutoff_len {cutoff_len} ({why})")
    if not any(label != -100 for label in enc.labels):
        raise RowError("no_labels", "no token left to train")
    out: dict[str, Any] = {"input_ids": enc.input_ids, "labels": enc.labels}
    if images:
        for name, value in processed.items():
            out[name] = value.tolist() if hasattr(value, "tolist") else value
    if vision.mm_token_type_ids:
        out["mm_token_type_ids"] = mm_token_type_ids(enc.input_ids, tokenizer, vision)
    if vision.token_type_ids:
        out["token_type_ids"] = [min(t, 1) for t in mm_token_type_ids(enc.input_ids, tokenizer, vision)]
    return out


def prepare_vision(
    config: DataConfig,
    family: Family,
    *,
    template: Any,
    tokenizer: Any,
    processor: Any,
    base_dir: Path | None,
    model_config: Any = None,
) -> tuple[list[dict[str, Any]], Stats]:
    """Every dataset of ``config`` as encoded rows with images (a list: pixel arrays stay numpy-sized), and stats."""
    from .pipeline import _limit, resolve_specs

    stats = Stats()
    log = ProblemLog(config.on_error)
    rows: list[dict[str, Any]] = []
    for spec in resolve_specs(config, "sft", base_dir):
        for origin, row in read_vision_rows(spec, log, _limit(spec, config)):
            stats.rows_read += 1
            folder = (
                Path(origin.file).parent if Path(origin.file).is_file() else base_dir
            )  # images beside the data
            try:
                encoded = encode_row(
                    row,
                    family,
                    template,
                    tokenizer,
                    processor,
                    base_dir=folder,
                    cutoff_len=config.cutoff_len,
                    train_on_prompt=config.train_on_prompt,
                    mask_history=config.mask_history,
                    model_config=model_config,
                )
            except RowError as exc:
                log.add(Problem(origin, exc.reason, exc.detail))
                continue
            rows.append(encoded)
            stats.tokens += len(encoded["input_ids"])
            stats.trained_tokens += sum(1 for x in encoded["labels"] if x != -100)
    log.raise_if_fatal()
    log.into(stats)
    stats.rows_kept = stats.train_rows = len(rows)
    if not rows:
        raise DataError(
            f"no rows left of {stats.rows_read} read", hint="check the images and `dayzero data stats`"
        )
    return rows, stats
