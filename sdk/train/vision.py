"""Training a vision-language family: batching rows with images, and which parts of the model train.

- `VisionCollator` pads the per-token columns (``input_ids``, ``labels``, ``attention_mask``,
  ``mm_token_type_ids``) and concatenates the image columns along their first axis, which is how every
  transformers VLM takes a batch (Qwen-VL: patches of all images, plus one ``image_grid_thw`` row per image;
  fixed-size families: one ``pixel_values`` entry per image).
- `freeze_parts` freezes the vision tower and the projector as the family's `vision.freeze_vision` /
  `vision.freeze_projector` say (full and freeze fine-tuning; LoRA is kept in the language model by its
  targets, `sdk.vision_targets`).
- `trainer_arguments`: TRL's own preparation is skipped (the rows are token ids with pixel arrays already)
  and no column is dropped (the image columns are forward arguments TRL's signature check may not list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dayzero.registry.schema import Family

__all__ = ["TOKEN_COLUMNS", "VisionCollator", "freeze_parts", "trainer_arguments"]

TOKEN_COLUMNS = {
    "input_ids": None,
    "labels": -100,
    "attention_mask": 0,
    "mm_token_type_ids": 0,
    "token_type_ids": 0,
}
"""Per-token columns and their pad value (None: the tokenizer's pad id)."""


@dataclass
class VisionCollator:
    """Pads token columns to the longest row (on ``padding_side``) and concatenates image columns."""

    pad_token_id: int
    padding_side: str = "right"

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch: dict[str, Any] = {}
        longest = max(len(r["input_ids"]) for r in rows)
        for row in rows:
            row.setdefault("attention_mask", [1] * len(row["input_ids"]))
        for name, pad in TOKEN_COLUMNS.items():
            if name not in rows[0]:
                continue
            value = self.pad_token_id if pad is None else pad
            padded = []
            for row in rows:
                seq = list(row[name])
                fill = [value] * (longest - len(seq))
                padded.append(fill + seq if self.padding_side == "left" else seq + fill)
            batch[name] = torch.tensor(padded, dtype=torch.long)
        for name in rows[0]:
            if name in TOKEN_COLUMNS:
                continue
            parts = [
                torch.as_tensor(row[name]) for row in rows if row.get(name) is not None and len(row[name])
            ]
            if parts:
                batch[name] = torch.cat(parts, dim=0)
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].float()
        return batch


def freeze_parts(
    model: Any, family: Family, *, freeze_vision: bool | None = None, freeze_projector: bool | None = None
) -> int:
    """Freeze the vision tower / projector (defaults: the family's facts); returns how many parameters froze."""
    vision = family.vision
    if vision is None:
        return 0
    freeze_vision = vision.freeze_vision if freeze_vision is None else freeze_vision
    freeze_projector = vision.freeze_projector if freeze_projector is None else freeze_projector
    tower, projector = vision.modules.vision_tower + ".", vision.modules.projector + "."
    frozen = 0
    for name, param in model.named_parameters():
        name = name.removeprefix("base_model.model.")
        in_projector = name.startswith(projector)
        if (in_projector and freeze_projector) or (
            name.startswith(tower) and not in_projector and freeze_vision
        ):
            param.requires_grad_(False)
            frozen += param.numel()
    return frozen


def trainer_arguments() -> dict[str, Any]:
    """TrainingArguments for rows that are already token ids and pixel arrays."""
    return {"remove_unused_columns": False, "dataset_kwargs": {"skip_prepare_dataset": True}}
