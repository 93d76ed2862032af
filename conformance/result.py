"""What one conformance check says: a status, a severity, a one-line summary and its evidence.

A failing check is data (a result in the report), not an exception: the run carries on and the
report shows every check. Exceptions are kept for two cases a check cannot express as a verdict:
`Unavailable` (a module it needs has not been built or installed, so it is *skipped*, never faked
as a pass) and `NotApplicable` (the fact it checks does not exist for this family).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    passed = "pass"
    failed = "fail"
    error = "error"  # the check itself crashed: counts as a failure
    skipped = "skip"  # could not run here (a module or file is missing)
    not_applicable = "n/a"  # the fact it checks does not exist for this family


class Severity(str, Enum):
    error = "error"  # gates `status: supported`
    warning = "warning"  # reported, never gates


@dataclass(frozen=True)
class Outcome:
    """A check function's verdict; the runner adds id, group, severity and timing."""

    passed: bool
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    id: str
    group: str
    title: str
    severity: Severity
    status: Status
    summary: str
    evidence: dict[str, Any]
    seconds: float

    @property
    def blocking(self) -> bool:
        """Whether this result keeps a family from `supported`: an error-severity check that did not pass.

        `n/a` never blocks (nothing to check); `skip` does, because an unchecked fact is not a passed one.
        """
        return self.severity == Severity.error and self.status not in (Status.passed, Status.not_applicable)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group,
            "title": self.title,
            "severity": self.severity.value,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": self.evidence,
        }


class Unavailable(Exception):
    """A module or file the check needs is not there: the check is skipped with this reason."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not available: {what}")


class NotApplicable(Exception):
    """The fact this check verifies does not exist for this family (e.g. no reference vectors)."""


class RemoteCodeNotRun(Unavailable):
    """The check walks the real class, and this family's class is the vendor's `auto_map` code: not run (a skip,
    so it keeps the family from `supported`), never a pass and never a crash."""

    def __init__(self) -> None:
        from dayzero.sdk.tiny import REMOTE_CODE_NOT_RUN

        Exception.__init__(self, REMOTE_CODE_NOT_RUN)
