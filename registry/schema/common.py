"""Shared building blocks for the registry's pydantic models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Strict(BaseModel):
    """Base for every registry model: unknown fields are errors, instances are immutable.

    Forbidding extra keys is what turns a typo in a family file (``eos_tokne``) into an error that
    names the field, instead of a fact silently ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_enum_values=True, defer_build=True)


Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", min_length=1, max_length=64),
    Field(description="Lower-case id: letters, digits, '.', '_' and '-'."),
]

ModulePath = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z0-9_]+|\{\}))*$"),
    Field(description="Dotted module path inside the model; `{}` stands for a layer index."),
]
