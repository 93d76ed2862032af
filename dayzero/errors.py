"""One small hierarchy of errors, in the manner of ``huggingface_hub.errors``.

Every error says *what* went wrong, *where* (file, line, field path) and *what to do next*. The CLI
prints ``str(error)`` on one line and exits with status 2; nothing else in dayzero should print a
traceback for bad input.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """A location in user input: a file, a line in it, and a dotted field path."""

    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.field:
            parts.append(f"field `{self.field}`")
        return ", ".join(parts)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input, and where (its field): errors with several carry them all."""

    message: str
    where: Where | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where and str(self.where) else self.message


class DayzeroError(Exception):
    """Base of all dayzero errors: a message, an optional location and an optional hint.

    One policy for input with several problems (a recipe, a family file): every problem is found,
    `problems` holds each with its field, and the one-line message names them all.
    """

    # The command that prints the JSON Schema of what this kind of error is about (named in "unknown field").
    schema_command = "dayzero registry schema"

    def __init__(
        self, message: str, *, where: Where | None = None, hint: str | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        self.problems = list(problems) if problems else [Problem(message, where)]
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where and str(self.where) else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class RegistryError(DayzeroError):
    """A family file, the rules file or a registry lookup is wrong."""


class FamilyNotFoundError(RegistryError, LookupError):
    """No family matches an id, a hub id or a config."""


class RecipeError(DayzeroError):
    """A recipe does not validate, or a rule rejects the combination it asks for."""

    schema_command = "dayzero recipe schema"


class DataError(DayzeroError):
    """A dataset or a row in it does not fit its declared format."""


class TemplateError(DayzeroError):
    """A chat template cannot render a conversation, or misbehaves in the sandbox."""


class ExportError(DayzeroError):
    """An export failed one of its checks; nothing that looks complete was written."""


class WriteError(DayzeroError):
    """A file or folder could not be written (read-only folder, full disk); nothing half-written looks finished."""


# errno values that mean "this cannot be written here" (as opposed to a bug): WriteError, not a traceback.
WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class ServeError(DayzeroError):
    """The server cannot start or cannot serve the requested model."""


class ConformanceError(DayzeroError):
    """A conformance run could not be carried out (not: a check failed, which is a report)."""


class NotSupportedError(DayzeroError, NotImplementedError):
    """A feature dayzero does not implement (yet); the message names it."""
