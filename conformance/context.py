"""Everything a check may look at, built once per family run and shared between checks.

Expensive things (the tiny tokenizer and model, the chat template, the trained model) are built on
first use and cached, so the train, export and serve checks work on the same instance, in the same
order a user's recipe would (train -> export -> serve). The SDK pieces a check uses are imported
inside the functions that need them, so reading a report or the check table stays light.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .official import OfficialFiles, read_reference
from .result import NotApplicable, RemoteCodeNotRun, Unavailable

if TYPE_CHECKING:
    from dayzero.registry.schema import ChatFormat, Family
    from dayzero.registry.store import Registry


@dataclass
class Context:
    """One family's conformance run: its facts, where the official files are, and shared artifacts."""

    family: Family
    registry: Registry
    workdir: Path
    reference_dir: Path | None = None
    official: OfficialFiles | None = None
    previous: dict[str, Any] | None = None  # the previous committed report, for pinned values
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def format(self) -> ChatFormat:
        return self.registry.format_of(self.family)

    def once(self, key: str, build: Any) -> Any:
        """The cached value of ``build()``; an exception is cached too, so a failed build is not retried
        by every check that needs it."""
        if key not in self.cache:
            try:
                self.cache[key] = ("ok", build())
            except Exception as exc:
                self.cache[key] = ("exc", exc)
        kind, value = self.cache[key]
        if kind == "exc":
            raise value
        return value

    # --- the official release files ---------------------------------------------------------------
    def official_files(self) -> OfficialFiles:
        """`--model`'s files, or the family's `template.official` under the reference folder."""
        if self.official is not None:
            return self.official
        rel = self.family.template.official
        if not rel:
            raise NotApplicable("no official template recorded (`template.official`) and no --model given")
        if self.reference_dir is None:
            raise Unavailable(f"reference folder for {rel} (pass --reference or --model)")
        # Reports name the file relative to the reference folder, so they do not depend on where it lies.
        return self.once("official", lambda: dataclasses.replace(read_reference(self.reference_dir / rel),
                                                                 source=f"reference:{rel}"))

    # --- tiny instance ----------------------------------------------------------------------------
    def require_class(self) -> None:
        """Raise `RemoteCodeNotRun` when the family's class is remote code: every check that builds, trains, exports
        or serves the real class calls this first, so it reports "not run" rather than failing or crashing."""
        if self.family.architecture.remote_code is not None:
            raise RemoteCodeNotRun()

    def tiny_tokenizer(self) -> Any:
        from dayzero.sdk.tiny import tiny_tokenizer as fn
        return self.once("tiny_tokenizer", lambda: fn(self.family))

    def tiny_model(self) -> Any:
        from dayzero.sdk.tiny import tiny_model as fn
        self.require_class()
        tok = self.tiny_tokenizer()
        return self.once("tiny_model", lambda: fn(self.family, tokenizer=tok, seed=0))

    def view(self) -> Any:
        """The family as this run's registry has it (a `FamilyView`): what the SDK's stages are given."""
        from dayzero.registry.view import view_of

        return self.once("view", lambda: view_of(self.registry, self.family))

    def chat_template(self) -> Any:
        from dayzero.sdk.templates import ChatTemplate
        return self.once("chat_template", lambda: ChatTemplate.for_view(self.view()))

    def previous_check(self, check_id: str) -> dict[str, Any] | None:
        for item in (self.previous or {}).get("checks", []):
            if item.get("id") == check_id:
                return item
        return None


def default_reference_dir() -> Path | None:
    """$DAYZERO_REFERENCE, else ../shared/reference beside the checkout, else None."""
    import os

    env = os.environ.get("DAYZERO_REFERENCE")
    if env:
        return Path(env)
    guess = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"
    return guess if (guess / "README.md").is_file() else None
