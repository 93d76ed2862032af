"""The `dayzero` command line.

Each command group lives in its own module and registers itself on `app`. Modules here import only
typer and dayzero's light modules at import time, so `dayzero --help` and registry lookups never
load torch or transformers; commands import heavy libraries inside their bodies.

Errors: a `DayzeroError` or a usage error prints as one line on stderr and exits with status 2, never a
traceback.
"""

from __future__ import annotations

import sys

import typer

from dayzero.errors import DayzeroError

app = typer.Typer(
    name="dayzero",
    help="Model-family facts as data: registry lookups, recipes, training, export, serving, conformance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Command modules, imported for their side effect: each adds its commands to `app`.
COMMAND_MODULES = (
    "dayzero.cli.registry_cmd",
    "dayzero.cli.data_cmd",
    "dayzero.cli.conformance_cmd",
    "dayzero.cli.run_cmd",
    "dayzero.cli.serve_cmd",
    "dayzero.cli.template_cmd",
    "dayzero.cli.eval_cmd",
)


GROUP_HOMES = {
    "registry": "dayzero.cli.registry_cmd",
    "data": "dayzero.cli.data_cmd",
    "conformance": "dayzero.cli.conformance_cmd",
    "recipe": "dayzero.cli.run_cmd",
    "template": "dayzero.cli.template_cmd",
}
"""Command group -> the module that defines it (tests/test_registry_cli.py keeps it complete).

typer builds every registered command's parameters before it parses one, so `dayzero registry show`
registers only `registry_cmd`. Plain commands (`run`, `eval`...), `--help`, no command or an unknown one
register everything: a lone plain command would turn typer's app into that command."""


def _register(argv: list[str] | None = None) -> None:
    """Import the command modules: only the invoked command's when ``argv`` names one, else all."""
    from importlib import import_module

    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    if argv and argv[0] == first and first in GROUP_HOMES:
        import_module(GROUP_HOMES[first])
        return
    for name in COMMAND_MODULES:
        import_module(name)


def _click_errors() -> tuple[type[Exception], ...]:
    """Usage errors as click raises them: typer >= 0.29 vendors click (`typer._click`), older typer uses click."""
    classes: list[type[Exception]] = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = __import__(name, fromlist=["ClickException"])
        except ImportError:
            continue
        classes.append(module.ClickException)
    return tuple(classes)


def _usage_line(exc: Exception) -> str:
    """A click usage error as one line: what is wrong, and where the command's help is."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "dayzero"
    return f"error: {message} (see `{path} --help`)"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning dayzero errors into one line and exit code 2."""
    _register(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # click returns (not raises) `typer.Exit(n)` when not standalone
            sys.exit(code)
    except DayzeroError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except _click_errors() as exc:  # usage errors: unknown command or option, missing argument, bad value
        print(_usage_line(exc), file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
