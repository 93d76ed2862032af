"""Cost of the template sandbox's bounds on normal renders (issue 10: templates are untrusted code).

Renders every family's official template (from ../shared/reference) over the parity battery, the
way `dayzero run` renders training rows, and reports the time per render. Run it on a commit with
and without the bounds to compare:

    .venv/bin/python benchmarks/template_bounds.py [--repeat 20] [--out results/template_bounds.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

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
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        for source, c in jobs:
            render_official(source, c.messages, tools=c.tools, add_generation_prompt=True)
        best = min(best, time.perf_counter() - start)
    per_render_us = best / len(jobs) * 1e6
    print(f"{len(jobs)} renders, best of {args.repeat}: {per_render_us:.1f} us per render")
    write_result(
        "template_bounds",
        {"renders": len(jobs), "repeat": args.repeat, "us_per_render_best": round(per_render_us, 2)},
        args.out,
    )


if __name__ == "__main__":
    main()
