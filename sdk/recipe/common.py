"""Shared base for the recipe's section models."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors (a typo must not be silently ignored).

    Sections are not frozen: `key=value` overrides are applied to the YAML data before validation,
    but the SDK fills resolved values (family id, source) into a copy after validation.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic reads `learning_rate: true` as 1.0; a boolean where a number goes is a mistake."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _is_number(field.annotation):
            raise ValueError(f"expected a number, got {str(value).lower()}")
        return value


def _is_number(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return bool(args) and all(a in (int, float) for a in args)
    return False
