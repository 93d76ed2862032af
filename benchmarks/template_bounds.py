"""Cost of the template sandbox's bounds on normal renders (issue 10: templates are untrusted code).

Renders every family's official template (from ../shared/reference) over the parity battery, the
way `dayzero run` renders training rows, twice, interleaved: with dayzero's bounded sandbox
(`render_official`) and with a plain `ImmutableSandboxedEnvironment` as transformers uses (no bounds),
and reports the best and median time per render of each:

    .venv/bin/python benchmarks/template_bounds.py [--repeat 20] [--out results/template_bounds.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jinja2.exceptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from dayzero import registry
    from dayzero.errors import DayzeroError
    from dayzero.sdk.templates.battery import cases
    from dayzero.sdk.templates.parity import load_official
    from dayzero.sdk.templates.sandbox import render_official

    root = Path(
        os.environ.get("DAYZERO_REFERENCE", Path(__file__).resolve().parents[2] / "shared" / "reference")
    )
    jobs = []
    for fam in sorted(registry.families(), key=lambda f: f.id):
        official = fam.template.official
        if not official or not (root / official.partition("#")[0]).exists():
            continue
        source = load_official(official, root)
        for c in cases():
            try:
                render_official(source, c.messages, tools=c.tools, add_generation_prompt=True)
            except DayzeroError:
                continue
            jobs.append((source, c))
    if not jobs:
        raise SystemExit(f"no official templates under {root}")
    baseline = _baseline_env()
    jobs = [(source, c) for source, c in jobs if _plain_render(baseline, source, c) is not None]
    times: dict[str, list[float]] = {"bounded": [], "unbounded": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        for source, c in jobs:
            render_official(source, c.messages, tools=c.tools, add_generation_prompt=True)
        times["bounded"].append((time.perf_counter() - start) / len(jobs) * 1e6)
        start = time.perf_counter()
        for source, c in jobs:
            _plain_render(baseline, source, c)
        times["unbounded"].append((time.perf_counter() - start) / len(jobs) * 1e6)
    result: dict[str, object] = {"renders": len(jobs), "repeat": args.repeat}
    for name, values in times.items():
        values.sort()
        result[f"{name}_us_best"] = round(values[0], 1)
        result[f"{name}_us_median"] = round(values[len(values) // 2], 1)
    result["overhead_median"] = round(result["bounded_us_median"] / result["unbounded_us_median"] - 1, 3)  # type: ignore[operator]
    print(json.dumps(result))
    write_result("template_bounds", result, args.out)


def _baseline_env() -> object:
    """transformers' sandbox (`chat_template_utils._compile_jinja_template`), without dayzero's bounds."""
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = lambda x, indent=None, **kw: json.dumps(x, ensure_ascii=False, indent=indent)
    return env


def _plain_render(env: object, source: str, c: object) -> str | None:
    from datetime import datetime

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    try:
        template = _cached(env, source)
        return template.render(
            messages=c.messages,
            tools=c.tools,
            add_generation_prompt=True,  # type: ignore[attr-defined]
            bos_token="",
            eos_token="",
            raise_exception=raise_exception,
            strftime_now=lambda fmt: datetime(2024, 7, 26).strftime(fmt),
        )
    except Exception:
        return None


_TEMPLATES: dict[str, object] = {}


def _cached(env: object, source: str) -> object:
    if source not in _TEMPLATES:
        _TEMPLATES[source] = env.from_string(source)  # type: ignore[attr-defined]
    return _TEMPLATES[source]


if __name__ == "__main__":
    main()
