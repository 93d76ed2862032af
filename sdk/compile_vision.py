"""Compile-time rules of a vision-language family's recipe, read from its `vision` facts.

A VLM trains through the same plan as a text family (`sdk.compiler`); what differs is refused here, at
plan time, with the reason, rather than after the model has loaded: stages whose image path dayzero does
not have yet, and packing (packed rows would need their image features re-cut along the same borders).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dayzero.registry.schema import Family

    from .recipe.method import MethodSection
    from .recipe.schema import Recipe

__all__ = ["VISION_STAGES", "frozen_parts", "vision_problems"]

VISION_STAGES = ("sft",)
"""Stages with an image path. DPO is refused: TRL 1.16's DPOTrainer takes images only through a full
`ProcessorMixin`, and the Qwen-VL processors cannot be built offline here (their video processor needs
torchvision, whose wheels are ABI-broken next to torch 2.13); dayzero's own image rows are SFT rows."""


def vision_problems(r: Recipe, family: Family) -> list[str]:
    """The recipe's conflicts with a vision-language family (empty for text families)."""
    if family.vision is None:
        return []
    problems = []
    if r.method.stage not in VISION_STAGES:
        problems.append(
            f"[method.stage] `{r.method.stage}` on the vision-language family {family.id} is not supported: "
            f"dayzero trains VLMs with {', '.join(VISION_STAGES)} only (DPO on images needs TRL's processor path, "
            "which needs torchvision for this family's processor)"
        )
    if r.data.packing:
        problems.append(
            f"[data.packing] rows with images are not packed (family {family.id}); set `packing: false`"
        )
    if r.data.streaming:
        problems.append(
            f"[data.streaming] rows with images are read in memory (family {family.id}); set `streaming: false`"
        )
    return problems


def frozen_parts(method: MethodSection, family: Family) -> list[str]:
    """The parts of a VLM a full fine-tune keeps frozen: the recipe's `freeze_*` where given, else the family's."""
    vision = family.vision
    if vision is None:
        return []
    tower = vision.freeze_vision if method.freeze_vision is None else method.freeze_vision
    projector = vision.freeze_projector if method.freeze_projector is None else method.freeze_projector
    return [name for name, frozen in (("vision_tower", tower), ("projector", projector)) if frozen]
