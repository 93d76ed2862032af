"""LoRA targets of a vision-language family: the preset's names, under the language model only.

peft matches a list of `target_modules` as name suffixes, so `q_proj` also hits a SigLIP vision tower's
`q_proj` (Idefics3, Gemma 3, mllama), and `all-linear` wraps the vision tower and projector of every VLM
measured (10 of 24 modules on qwen2_vl, 61 of 75 on mllama). Where the family says
`vision.lora_language_model_only`, the preset becomes one regex peft full-matches against module names,
rooted at `vision.modules.language_model` (the prefix vLLM's LoRA loader expects as well).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dayzero.registry.schema import Family

__all__ = ["language_model_targets"]


def language_model_targets(family: Family, names: list[str]) -> str | list[str]:
    """peft `target_modules` for ``names``: a regex limited to the language model, or the names unchanged.

    Unchanged for text families and for VLMs whose entry lets LoRA reach the vision tower.
    """
    vision = family.vision
    if vision is None or not vision.lora_language_model_only or not names:
        return names
    leaves = "|".join(re.escape(n) for n in names)
    return rf"{re.escape(vision.modules.language_model)}\..*\.({leaves})"
