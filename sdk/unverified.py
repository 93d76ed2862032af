"""A model the registry does not know, or whose files contradict its family, still runs: as an unverified draft.

TRL and LLaMA-Factory train any causal LM with its own `apply_chat_template`; dayzero does too, but
says what it did not check. The entry is drafted on the fly with day0's logic (`conformance.day0.draft`):
architecture and LoRA targets from the real transformers class (a tiny instance, walked), template and
special tokens from the model's own tokenizer_config.json / chat template, generation eos from its
generation_config.json. It is held by the in-process registry only (`Registry.add_draft`), never
written into the families folder, and the plan lists it under `model.unverified`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dayzero.errors import DayzeroError, RecipeError, Where

# What a drafted entry has not been checked against (what conformance would check for a registry family).
NOT_CHECKED = (
    "conformance (no report: tokenizer vectors, template parity battery, export and serving checks never ran)",
    "quantization and export paths",
    "vLLM serving facts (parsers, LoRA constraints)",
)


def draft_id(model_dir: Path) -> str:
    """A registry id for the draft, from the folder name (hub snapshots: the repo name)."""
    name = model_dir.name
    if model_dir.parent.name == "snapshots":  # ~/.cache/huggingface/hub/models--org--name/snapshots/<sha>
        name = model_dir.parent.parent.name.removeprefix("models--").split("--")[-1]
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "model"
    return f"unverified-{slug}"[:64]


def draft_family(model_dir: Path, registry: Any) -> Any:
    """Draft, validate and register an entry for the model in `model_dir`; return the Family."""
    from dayzero.conformance.day0 import draft
    from dayzero.registry.schema import ChatFormat, Family

    config = model_dir / "config.json"
    tokenizer_config = model_dir / "tokenizer_config.json"
    generation = model_dir / "generation_config.json"
    if not tokenizer_config.is_file():
        raise RecipeError(
            "an unknown model needs its tokenizer_config.json (special tokens, chat template) to be drafted",
            where=Where(file=str(tokenizer_config)),
        )
    family_id = draft_id(model_dir)
    taken = set(registry.families) | set(registry.drafts) | set(registry.formats)
    base, n = family_id, 2
    while family_id in taken:  # another model of the same folder name was drafted in this process
        family_id, n = f"{base[:60]}-{n}", n + 1
    data, new_format, _files = draft(
        config, tokenizer_config, family_id, generation if generation.is_file() else None, registry=registry
    )
    data.update(status="draft", name=f"{model_dir.name} (unverified draft)")
    data["changelog"] = [f"1: drafted on the fly from {model_dir} (not in the registry; unverified)"]
    if new_format is not None:
        new_format = {**new_format, "id": family_id}
        data["template"]["format"] = family_id
    fmt = ChatFormat.model_validate(new_format) if new_format else None
    family = Family.model_validate(data)
    registry.add_draft(family, fmt)
    return family


def unverified_notes(family: Any, reason: str, model_dir: Path) -> list[str]:
    """What the plan says plainly: why the model is unverified, what was drafted from where, what was not checked."""
    arch = family.architecture
    return [
        reason,
        f"drafted from {model_dir}: architecture and LoRA targets from transformers' {arch.model_class} "
        f"(targets {', '.join(arch.lora.all_linear)}); chat template and special tokens from the model's own "
        f"tokenizer_config.json (eos {family.tokenizer.eos!r}, end of turn {family.tokenizer.end_of_turn})",
        *(f"not checked: {item}" for item in NOT_CHECKED),
    ]


def draft_or_explain(model_dir: Path, registry: Any, reason: str) -> tuple[Any, list[str]]:
    """The drafted family and its notes; a clear RecipeError when the model cannot be drafted."""
    try:
        family = draft_family(model_dir, registry)
    except RecipeError:
        raise
    except DayzeroError as exc:
        raise RecipeError(
            f"{reason}, and no entry could be drafted from its files: {exc.message}",
            where=Where(file=str(model_dir)),
        ) from None
    return family, unverified_notes(family, reason, model_dir)
