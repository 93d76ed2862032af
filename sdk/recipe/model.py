"""The `model:` section: which checkpoint to start from, and what may be loaded from it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from .common import Section

TINY_PREFIX = "tiny:"


class ModelSection(Section):
    id: str = Field(
        description="A Hugging Face or ModelScope repo id (`Qwen/Qwen2.5-7B-Instruct`), a local model directory "
        "(a relative path is relative to the recipe file's folder), "
        "or `tiny:<family-id>`: a tiny random instance of that registry family synthesised offline "
        "(hidden 64, 2 layers) for tests, demos and conformance."
    )
    family: str | None = Field(
        default=None,
        description="Registry family id. Optional: resolved from the hub id or the local config.json "
        "(`dayzero registry resolve`) when absent.",
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit) to download.")
    source: Literal["hf", "modelscope", "local", "tiny"] | None = Field(
        default=None,
        description="Where the weights come from: hf | modelscope | local | tiny. Inferred when absent: "
        "`tiny:` prefix -> tiny, an existing path -> local, otherwise hf.",
    )
    trust_remote_code: bool = Field(
        default=False, description="Run Python code shipped in the model repo. Off unless asked for by name."
    )
    allow_pickle: bool = Field(
        default=False,
        description="Allow pickle (`.bin`) weights. Off: only safetensors load, because unpickling runs code.",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="dtype to load the base in; `auto` keeps the checkpoint's own."
    )

    @model_validator(mode="after")
    def _tiny_needs_family(self) -> ModelSection:
        if self.id.startswith(TINY_PREFIX) and not self.id[len(TINY_PREFIX) :]:
            raise ValueError("`tiny:` needs a family id after the colon, e.g. `tiny:qwen2`")
        if self.source == "tiny" and not self.id.startswith(TINY_PREFIX):
            raise ValueError(f"`source: tiny` needs an id of the form `tiny:<family>`, got {self.id!r}")
        return self

    def inferred_source(self, base_dir: Path | None = None) -> str:
        """The source, inferred from the id when the recipe does not say (a local directory is looked for
        where `local_path` puts it: relative to the recipe's folder)."""
        if self.source:
            return self.source
        if self.id.startswith(TINY_PREFIX):
            return "tiny"
        if self.local_path(base_dir).exists():
            return "local"
        return "hf"

    def local_path(self, base_dir: Path | None = None) -> Path:
        """`id` as a local directory: relative paths are relative to the recipe file's folder (`base_dir`; the
        working directory for recipes given as data). The one rule for every relative path in a recipe."""
        path = Path(self.id).expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path

    def tiny_family(self) -> str | None:
        return self.id[len(TINY_PREFIX) :] if self.id.startswith(TINY_PREFIX) else None
