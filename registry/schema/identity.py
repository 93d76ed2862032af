"""Identity of a family: who it is, how mature its entry is, and where its facts were checked."""

from __future__ import annotations

import re
from enum import Enum
from typing import Literal

from pydantic import Field, model_validator

from .common import Strict


class Status(str, Enum):
    """How far a family entry can be trusted.

    ``supported`` is earned, not declared: it needs a passing conformance report whose hash the
    entry records (see ``conformance``).
    """

    draft = "draft"
    experimental = "experimental"
    supported = "supported"
    deprecated = "deprecated"


class Evidence(Strict):
    """One source a fact was checked against."""

    kind: Literal["reference", "hub", "library", "doc", "vendor-code"] = Field(
        description="`reference`: a file under shared/reference; `hub`: a hub repo at a revision; "
        "`library`: a library class at a version; `doc`: published documentation; `vendor-code`: the vendor's "
        "own remote-code file (modeling_*.py) as vendored in a public repository, `owner/repo@commit:path`."
    )
    ref: str = Field(
        description="The file path, `repo@revision`, `package==version Class`, URL, or (vendor-code) `owner/repo@commit:path`."
    )

    @model_validator(mode="after")
    def _vendor_code_is_pinned(self) -> Evidence:
        if self.kind == "vendor-code" and not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}:\S+", self.ref):
            raise ValueError(f"vendor-code evidence must be `owner/repo@<40-hex commit>:path`, got {self.ref!r}")
        return self
    facts: list[str] = Field(
        default_factory=list, description="Which sections or fields this source confirmed (empty: the whole entry)."
    )
