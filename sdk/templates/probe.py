"""The start-up check of a model's chat template: one small conversation must render.

A template is untrusted code (see ``bounds.py``): one that loops until its deadline, allocates past
its bounds or raises on an ordinary conversation would fail every request. `dayzero serve`, `dayzero
chat` and `dayzero template check` render this probe first and refuse the template with the reason,
rather than starting a server whose every answer is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dayzero.errors import TemplateError

PROBE: list[dict[str, Any]] = [
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hi. How can I help?"},
    {"role": "user", "content": "What is 2 + 2?"},
]
"""No system turn and no tools: every family's template must render this."""


def probe(render: Callable[..., str], what: str = "the chat template") -> str:
    """Render ``PROBE`` with a generation prompt through ``render``; a failure is a `TemplateError` saying so."""
    try:
        return render(PROBE, add_generation_prompt=True)
    except TemplateError as exc:
        raise TemplateError(
            f"{what} fails on a probe conversation: {exc.message}",
            where=exc.where,
            hint="fix or replace the template (it is refused rather than failing every request)",
        ) from None
