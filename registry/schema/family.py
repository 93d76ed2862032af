"""The family entry: one YAML file under families/, composed from the topic models."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from .architecture import Architecture
from .common import Identifier, Strict
from .deploy import Export, Quantization, Requirement, Serving
from .identity import Evidence, Status
from .match import Checkpoint, Match
from .template import FamilyTemplate
from .tokenizer import Tokenizer
from .vision import Vision


class Conformance(Strict):
    """Evidence for `status: supported`."""

    report_sha256: str | None = Field(
        default=None, description="sha256 of the passing conformance report (JSON) this entry was promoted with."
    )


class Family(Strict):
    """Everything dayzero knows about one model family."""

    id: Identifier = Field(description="Registry id; also the file name (`families/<id>.yaml`).")
    name: str = Field(description="Display name, e.g. `Qwen2 / Qwen2.5`.")
    revision: int = Field(ge=1, description="Bumped on every change to this file (see README, Versioning).")
    status: Status
    changelog: list[str] = Field(min_length=1, description="One line per revision, newest last: `N: what changed`.")
    verified_against: list[Evidence] = Field(min_length=1)
    match: Match
    checkpoints: list[Checkpoint] = Field(default_factory=list)
    tokenizer: Tokenizer
    template: FamilyTemplate
    architecture: Architecture
    quantization: Quantization = Field(default_factory=Quantization)
    export: Export = Field(default_factory=Export)
    serving: Serving
    requires: dict[str, Requirement] = Field(
        default_factory=dict, description="Library (transformers, peft, vllm...) -> version range and reason."
    )
    vision: Vision | None = Field(
        default=None, description="Vision-language facts (image tokens, processor, module prefixes); absent on text families."
    )
    conformance: Conformance = Field(default_factory=Conformance)

    @field_validator("changelog")
    @classmethod
    def _changelog_lines_numbered(cls, lines: list[str]) -> list[str]:
        for line in lines:
            head = line.split(":", 1)[0]
            if not head.strip().isdigit():
                raise ValueError(f"changelog line must start with `<revision>: `, got {line!r}")
        return lines

    @model_validator(mode="after")
    def _vision_tokens_are_special(self) -> Family:
        if self.vision is not None:
            known = set(self.tokenizer.all_special())
            missing = [t for t in self.vision.tokens() if t not in known]
            if missing:
                raise ValueError(f"vision tokens {missing} must be listed under `tokenizer.special`")
        return self

    @model_validator(mode="after")
    def _remote_code_has_provenance(self) -> Family:
        # A remote-code layout is not walked from a class: its only backing is the vendor's file, cited by commit.
        if self.architecture.remote_code is None:
            return self
        cited = [e for e in self.verified_against if e.kind == "vendor-code" and (not e.facts or "architecture" in e.facts)]
        if not cited:
            raise ValueError("a remote-code architecture needs a `vendor-code` entry in verified_against "
                             "(the vendor's modeling file, owner/repo@commit:path) covering `architecture`")
        if self.status == "supported":
            raise ValueError("a remote-code family cannot be `supported`: its architecture, train and export checks "
                             "do not run (they need trust_remote_code and the vendor's modeling file)")
        return self

    @model_serializer(mode="wrap")
    def _omit_absent_vision(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A text family dumps (and so hashes, exports and reports) exactly as before the `vision` section existed.
        data = handler(self)
        if data.get("vision") is None:
            data.pop("vision", None)
        return data

    @property
    def modality(self) -> str:
        """`vision` for a vision-language family, else `text` (the support matrix's modality column)."""
        return "vision" if self.vision is not None else "text"

    def checkpoint(self, hub_id: str) -> Checkpoint | None:
        """The checkpoint with this Hugging Face or ModelScope id (case-insensitive), if known."""
        key = hub_id.lower()
        for ckpt in self.checkpoints:
            if ckpt.hf.lower() == key or (ckpt.modelscope and ckpt.modelscope.lower() == key):
                return ckpt
        return None
