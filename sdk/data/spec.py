"""What a dataset is, as data: the dataset spec, the catalog of named specs, and a recipe's `data:` section.

The catalog plays the part of LLaMA-Factory's ``dataset_info.json``: a named entry says where the rows
come from (a local file, folder or glob, a Hugging Face dataset id, a ModelScope dataset id), how they
are laid out (``format``), what they mean (``kind``) and how their columns and role tags map onto
dayzero's canonical rows. Nothing about a dataset's layout is a branch in code.

Catalog files are YAML read through ``dayzero.yamlio``, so a typo is reported with file, line and field.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from dayzero.errors import DataError
from dayzero.yamlio import parse_yaml, read_text, validate


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True, validate_default=True)


class Format(str, Enum):
    """How a row is laid out."""

    alpaca = "alpaca"  # instruction / input / output (+ system, history)
    sharegpt = "sharegpt"  # a list of {from, value} turns with configurable tags
    openai = "openai"  # a list of {role, content, tool_calls} messages
    text = "text"  # one plain text per row, for pretraining


class Kind(str, Enum):
    """What a row means, independent of its layout."""

    sft = "sft"  # a conversation to imitate
    preference = "preference"  # a prompt with a chosen and a rejected reply
    kto = "kto"  # a prompt and one reply labelled desirable or not
    text = "text"  # raw text
    prompt = "prompt"  # a prompt to answer (online RL, evaluation), with an optional reference reply


class Columns(_Model):
    """Which column of a row holds what; `None` keeps the format's default (see `formats.DEFAULT_COLUMNS`)."""

    prompt: str | None = Field(default=None, description="alpaca: the instruction; openai/sharegpt: a prompt message list.")
    query: str | None = Field(default=None, description="alpaca: the optional input appended to the instruction.")
    response: str | None = Field(default=None, description="alpaca: the reply; kto: the completion.")
    system: str | None = Field(default=None, description="The system prompt column.")
    history: str | None = Field(default=None, description="alpaca: earlier [instruction, reply] pairs.")
    messages: str | None = Field(default=None, description="sharegpt/openai: the list of turns.")
    tools: str | None = Field(default=None, description="Tool definitions (a list, or its JSON text).")
    chosen: str | None = Field(default=None, description="preference: the preferred reply.")
    rejected: str | None = Field(default=None, description="preference: the other reply.")
    kto_tag: str | None = Field(default=None, description="kto: true for a desirable reply, false otherwise.")
    text: str | None = Field(default=None, description="text: the document.")


class Tags(_Model):
    """How a sharegpt/openai turn names its role and content (LLaMA-Factory's `tags`)."""

    role_tag: str | None = Field(default=None, description="Key of a turn's role (`from` in sharegpt, `role` in openai).")
    content_tag: str | None = Field(default=None, description="Key of a turn's text (`value`, `content`).")
    user_tag: str | None = Field(default=None, description="Role value of a user turn (`human`, `user`).")
    assistant_tag: str | None = Field(default=None, description="Role value of an assistant turn (`gpt`, `assistant`).")
    observation_tag: str | None = Field(default=None, description="Role value of a tool result (`observation`, `tool`).")
    function_tag: str | None = Field(default=None, description="Role value of a tool call turn (`function_call`).")
    system_tag: str | None = Field(default=None, description="Role value of a system turn (`system`).")


class DatasetSpec(_Model):
    """One dataset: where its rows come from and how to read them. Exactly one of `path`, `hf`, `ms`."""

    name: str | None = Field(default=None, description="Name used in reports; catalog entries get their key.")
    path: str | None = Field(
        default=None,
        description="A local .json/.jsonl/.csv/.parquet file, a folder of them, or a glob. Relative paths are "
        "resolved against the catalog (or recipe) file's folder.",
    )
    hf: str | None = Field(
        default=None,
        description="A Hugging Face dataset id, or a local dataset repo folder: relative to the catalog (or recipe) "
        "file's folder when it starts with `./` or `../` or names a folder there.",
    )
    ms: str | None = Field(default=None, description="A ModelScope dataset id.")
    subset: str | None = Field(default=None, description="Hub dataset configuration name.")
    split: str = Field(default="train", description="Hub dataset split.")
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit).")
    data_files: list[str] | None = Field(default=None, description="Hub: only these files of the repository.")
    format: Format = Field(default=Format.openai, description="alpaca | sharegpt | openai | text.")
    kind: Kind = Field(default=Kind.sft, description="sft | preference | kto | text | prompt.")
    columns: Columns = Field(default_factory=Columns)
    tags: Tags = Field(default_factory=Tags)
    num_samples: int | None = Field(default=None, gt=0, description="Use only the first N rows of this dataset.")

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        given = [k for k in ("path", "hf", "ms") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"a dataset needs exactly one of `path`, `hf`, `ms`; got {given or 'none'}")
        if (self.format == Format.text) != (self.kind == Kind.text):
            raise ValueError(f"format `{self.format}` does not go with kind `{self.kind}` (text goes with text)")
        return self

    @property
    def label(self) -> str:
        return self.name or self.path or self.hf or self.ms or "dataset"

    def resolved(self, base_dir: Path | None) -> DatasetSpec:
        """This spec with its relative local paths made relative to `base_dir` (the catalog or recipe file's
        folder): one rule for `path:`, for `hf:` naming a local folder, and for the recipe's `model.id`."""
        if base_dir is None:
            return self
        updates: dict[str, Any] = {}
        if self.path and not Path(self.path).is_absolute():
            updates["path"] = str(base_dir / self.path)
        if self.hf and not Path(self.hf).is_absolute():
            explicit = self.hf.startswith(("./", "../"))
            if explicit or (base_dir / self.hf).is_dir():  # else a hub id such as `org/name`
                updates["hf"] = str(base_dir / self.hf)
        return self.model_copy(update=updates) if updates else self


class Catalog(_Model):
    """Named dataset specs, read from a catalog YAML file (`datasets:` mapping name -> spec)."""

    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    _base_dir: Path | None = PrivateAttr(default=None)  # the catalog file's folder: relative paths resolve here

    @property
    def base_dir(self) -> Path | None:
        return self._base_dir

    def get(self, name: str) -> DatasetSpec:
        """The spec named `name`, with its relative path resolved; a DataError lists the names otherwise."""
        spec = self.datasets.get(name)
        if spec is None:
            known = ", ".join(sorted(self.datasets)) or "none"
            raise DataError(f"no dataset named {name!r} in the catalog", hint=f"known datasets: {known}")
        return spec.resolved(self.base_dir).model_copy(update={"name": spec.name or name})


def load_catalog(path: Path) -> Catalog:
    """Read and validate a catalog file; errors name the file, line and field."""
    text = read_text(path, DataError)
    data = parse_yaml(text, str(path), DataError) or {}
    catalog = validate(Catalog, data, source=str(path), text=text, error=DataError)
    catalog._base_dir = path.resolve().parent
    return catalog


def bundled_catalog_path() -> Path:
    """The catalog of demo datasets shipped in `dayzero.recipes` (recipes/data/catalog.yaml)."""
    from importlib.resources import files

    return Path(str(files("dayzero.recipes"))) / "data" / "catalog.yaml"


def bundled_catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


Stage = Literal["sft", "pt", "rm", "dpo", "orpo", "simpo", "kto", "grpo"]

#: The row kind each training stage consumes.
STAGE_KIND: dict[str, str] = {
    "sft": Kind.sft.value,
    "pt": Kind.text.value,
    "rm": Kind.preference.value,
    "dpo": Kind.preference.value,
    "orpo": Kind.preference.value,
    "simpo": Kind.preference.value,
    "kto": Kind.kto.value,
    "grpo": Kind.prompt.value,  # any kind but text: prompts are cut from sft, preference and kto rows too
    "ppo": Kind.prompt.value,
}

DatasetRef = Annotated[
    str | DatasetSpec,
    Field(description="A catalog name, a local file path, or an inline dataset spec."),
]


class DataConfig(_Model):
    """A recipe's `data:` section: which datasets, how to mix and cut them, and how to preprocess."""

    datasets: list[DatasetRef] = Field(min_length=1, description="Catalog names, file paths or inline specs.")
    catalog: str | None = Field(default=None, description="A catalog file; the bundled demo catalog when unset.")
    mix: Literal["concat", "interleave"] = Field(default="concat", description="concat | interleave.")
    weights: list[float] | None = Field(
        default=None, description="interleave: sampling weight of each dataset (normalised); equal when unset."
    )
    max_samples: int | None = Field(default=None, gt=0, description="Use at most N rows of each dataset.")
    val_size: float = Field(
        default=0.0, ge=0, description="Validation split: a fraction in (0, 1), or a row count when >= 1."
    )
    cutoff_len: int = Field(default=1024, gt=0, description="Longest tokenized row (see preprocess truncation policy).")
    truncation: Literal["cut", "turns", "drop"] = Field(
        default="cut",
        description="An sft row longer than cutoff_len: cut (at cutoff_len, inside the turn that does not fit; "
        "every row is kept, as LLaMA-Factory does) | turns (after the last whole reply that fits; a row whose "
        "first reply does not fit is dropped) | drop (dropped). Dropped rows are counted as `too_long`. A "
        "preference/kto row: cut (prompt and replies cut by LLaMA-Factory's rule, the prompt keeping its "
        "generation header) | turns, drop (dropped).",
    )
    packing: bool | None = Field(
        default=None, description="Pack rows into fixed cutoff_len rows; default: on for pt, off otherwise."
    )
    streaming: bool = Field(
        default=False,
        description="Read and preprocess lazily (an IterableDataset); `on_error: raise` then stops at the first "
        "bad row, as the rest is not read yet.",
    )
    num_proc: int = Field(default=1, ge=1, description="Processes for tokenization.")
    on_error: Literal["raise", "skip"] = Field(
        default="raise", description="raise: stop on bad rows (lists the first 5); skip: drop them, count per reason."
    )
    on_unsupported: Literal["raise", "skip"] = Field(
        default="skip",
        description="Rows the family's chat template cannot render (a system turn for Gemma, tool calls for a "
        "format without tools): skip them, counted as `template` in the stats, or raise.",
    )
    train_on_prompt: bool = Field(default=False, description="Also train on the prompt tokens (sft).")
    mask_history: bool = Field(default=False, description="Train only on the last assistant turn (sft).")
    thinking: Literal["on", "off", "keep"] | None = Field(
        default=None, description="Reasoning switch passed to the template: on | off | keep (the family default)."
    )
    placeholders: dict[str, str] = Field(
        default_factory=dict,
        description="Values for `{{key}}` placeholders in message texts (the identity set's `name`, `author`).",
    )
    cache_dir: str | None = Field(
        default=None, description="Tokenized cache folder; no cache when unset (streaming is never cached)."
    )
    seed: int = Field(default=42, description="Seed for interleaving and the validation split.")

    @model_validator(mode="after")
    def _consistent(self) -> DataConfig:
        if self.weights is not None:
            if self.mix != "interleave":
                raise ValueError("`weights` only apply to `mix: interleave`")
            if len(self.weights) != len(self.datasets):
                raise ValueError(f"`weights` has {len(self.weights)} values for {len(self.datasets)} datasets")
            if any(w < 0 for w in self.weights) or not any(w > 0 for w in self.weights):
                raise ValueError(f"`weights` must be non-negative with one positive, got {self.weights}")
        if self.val_size >= 1 and self.val_size != int(self.val_size):
            raise ValueError(f"`val_size` >= 1 is a row count and must be whole, got {self.val_size}")
        if self.streaming and 0 < self.val_size < 1:
            raise ValueError("with `streaming`, `val_size` must be a row count (>= 1): the length is unknown")
        return self
