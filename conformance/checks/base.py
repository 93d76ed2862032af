"""The check table: every check is a plain function registered with an id, a title and a severity.

Like vLLM's model registry, the table is flat and ordered; the runner runs it top to bottom. The
order matters only where a later check reuses an earlier one's artifact (train -> export -> serve),
and those share it through the context, not through globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..context import Context
from ..result import Outcome, Severity

CheckFn = Callable[[Context], Outcome]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    fn: CheckFn

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]


TABLE: list[Check] = []

# Groups run in this order: cheap facts first, then the stages in the order a recipe runs them, so
# train -> export -> serve can hand their artifacts on through the context.
GROUP_ORDER = ("schema", "tokenizer", "architecture", "quantization", "template", "train", "export", "serve", "serving")


def check(check_id: str, title: str, severity: Severity = Severity.error) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check ``check_id`` (``group.name``)."""

    def register(fn: CheckFn) -> CheckFn:
        if check_id.split(".", 1)[0] not in GROUP_ORDER:
            raise ValueError(f"check {check_id!r} is not in a known group {GROUP_ORDER}")
        if any(c.id == check_id for c in TABLE):
            raise ValueError(f"duplicate check id {check_id!r}")
        TABLE.append(Check(check_id, title, Severity(severity), fn))
        return fn

    return register
