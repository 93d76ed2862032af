"""A family as one checkpoint sees it: the frozen view `compile` puts into the Plan.

Every stage after compile (data preparation, training, export, serving, conformance) reads this
view, never the process-global registry: what a run trained on is what it exports and serves, even
if the registry changes underneath it. The two decisions several stages need are made here, once:

- checkpoint overrides (`checkpoints[].overrides`: chat format, reasoning mode, eos, default system,
  tied embeddings) are applied to the family (`apply_overrides`);
- the stop set: the strings a server stops at (`stop_strings`) and the tokens generation ends on
  (`stop_tokens`, what generation_config.json lists as eos).

Torch-free, like the rest of the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from .schema import ChatFormat, Family
from .schema.common import Strict

if TYPE_CHECKING:
    from .schema.match import Checkpoint
    from .store import Registry


class FamilyView(Strict):
    """One family with a checkpoint's overrides applied, its chat format, and where it came from."""

    family: Family = Field(description="The family entry, with the checkpoint's overrides applied.")
    format: ChatFormat = Field(description="The chat format the (overridden) template uses.")
    checkpoint: str | None = Field(default=None, description="The registry checkpoint (hub id) whose overrides apply.")
    family_hash: str = Field(description="`Registry.content_hash` of the entry when the view was taken.")
    registry_version: str = Field(description="The registry version the view was taken from.")

    @property
    def id(self) -> str:
        return self.family.id

    @property
    def stop_strings(self) -> list[str]:
        """Text a server stops generation at: the answer's end of turn, the family's end-of-turn tokens, eos.

        A thinking model must be free to write its reasoning block's close (harmony's `<|end|>` ends the
        analysis message, not the turn), so that is never a stop string.
        """
        fmt, tok, reasoning = self.format, self.family.tokenizer, self.family.template.reasoning
        close = reasoning.close if reasoning.mode != "none" else None
        stops = [fmt.final_end_of_turn or fmt.end_of_turn, *tok.end_of_turn, tok.eos]
        return [s for s in dict.fromkeys(stops) if s and s != close]

    @property
    def stop_tokens(self) -> list[str]:
        """Tokens generation ends on: `serving.generation_eos` and the end-of-turn tokens (generation_config's eos)."""
        return list(dict.fromkeys([*self.family.serving.generation_eos, *self.family.tokenizer.end_of_turn]))


def apply_overrides(family: Family, checkpoint: Checkpoint | None) -> Family:
    """The family as this checkpoint differs from it (`checkpoints[].overrides`); the family itself when None."""
    if checkpoint is None:
        return family
    o = checkpoint.overrides
    template: dict[str, Any] = {}
    if o.template:
        template["format"] = o.template
    if o.default_system is not None:
        template["default_system"] = o.default_system
    if o.reasoning:
        template["reasoning"] = family.template.reasoning.model_copy(update={"mode": o.reasoning})
    updates: dict[str, Any] = {}
    if template:
        updates["template"] = family.template.model_copy(update=template)
    if o.eos:
        updates["tokenizer"] = family.tokenizer.model_copy(update={"eos": o.eos})
    if o.tie_word_embeddings is not None:
        updates["architecture"] = family.architecture.model_copy(update={"tie_word_embeddings": o.tie_word_embeddings})
    return family.model_copy(update=updates) if updates else family


def view_of(registry: Registry, family: Family | str, checkpoint: str | None = None) -> FamilyView:
    """The view of ``family`` (an entry or an id) through ``checkpoint`` (a hub id it lists), taken from ``registry``."""
    from dayzero.errors import FamilyNotFoundError

    from .store import family_hash

    fam = registry.get(family) if isinstance(family, str) else family
    ckpt = None
    if checkpoint is not None:
        ckpt = fam.checkpoint(checkpoint)
        if ckpt is None:
            raise FamilyNotFoundError(f"family {fam.id!r} lists no checkpoint {checkpoint!r}")
    seen = apply_overrides(fam, ckpt)
    known = registry.families.get(fam.id) == fam
    return FamilyView(
        family=seen,
        format=registry.formats[seen.template.format],
        checkpoint=ckpt.hf if ckpt else None,
        family_hash=registry.content_hash(fam.id) if known else family_hash(fam, registry.format_of(fam)),
        registry_version=registry.version,
    )

