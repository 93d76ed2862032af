"""The `export:` section (what the run writes after training) and `sample:` (the reply shown at the end)."""

from __future__ import annotations

from pydantic import Field

from .common import Section


class ExportSection(Section):
    enabled: bool = Field(default=True, description="Export at the end of the run.")
    merge: bool = Field(
        default=True,
        description="Merge the adapter into the base (sharded safetensors in the base dtype); false: adapter-only "
        "PEFT export, linted against the family's vLLM LoRA constraints.",
    )
    out: str | None = Field(default=None, description="Export directory; default `<run dir>/export`.")
    overwrite: bool = Field(
        default=False,
        description="Replace an earlier dayzero export at `out` (a folder holding dayzero_export.json); a folder "
        "dayzero did not write is never replaced.",
    )
    max_shard_size: str = Field(default="2GB", description="Largest safetensors shard.")
    ollama: bool = Field(default=True, description="Also write an Ollama Modelfile.")
    tolerance: float | None = Field(
        default=None,
        gt=0,
        description="Largest allowed |logit| difference between the reloaded merged export and base+adapter on "
        "the probe batch. Default: 1e-5 for fp32 weights (merges measure ~4e-7 to 3e-6); for 16-bit weights 3% "
        "of the largest probe logit (the merge itself rounds to the weight dtype).",
    )


class SampleSection(Section):
    prompt: str | None = Field(
        default="Hello! What can you do?", description="A user message answered by the exported model; null: skip."
    )
    max_new_tokens: int = Field(default=32, ge=1)
    image: str | None = Field(
        default=None,
        description="An image file sent with the prompt (a vision-language family), relative to the recipe's folder.",
    )
