"""Registry lookup cost: `import dayzero.registry` + one `registry.get`, and a cold `dayzero registry show ID --json`.

Measured in fresh interpreters (a cold start is what a tool calling dayzero pays), at the bundled
registry's size and at a synthetic registry of 200 families (copies of the bundled files under new
ids, through `DAYZERO_REGISTRY_ROOT`). Reported: process CPU time (what the issue's targets are in:
lookup < 100 ms, CLI < 300 ms) and wall time, medians of several runs; and whether torch or
transformers were imported (they must not be).

    python benchmarks/registry_lookup.py [--runs 7] [--synthetic 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yaml
from _common import write_result

LOOKUP = (
    "import time, sys; c = time.process_time(); t = time.perf_counter(); import dayzero.registry; "
    "dayzero.registry.get('{family}'); print(time.process_time() - c, time.perf_counter() - t, "
    "'torch' in sys.modules, 'transformers' in sys.modules)"
)
CLI = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run([sys.argv[1], 'registry', 'show', sys.argv[2], '--json'], capture_output=True, check=True); "
    "r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime + r.ru_stime, time.perf_counter() - t)"
)


def synthetic_root(n: int, into: Path) -> Path:
    """A families folder with `n` families: the bundled ones plus renamed copies (ids and hub ids made unique)."""
    from dayzero.registry.store import default_root

    src = default_root()
    root = into / "families"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    bundled = sorted(p for p in root.glob("*.yaml") if p.stem not in ("registry", "rules"))
    i = 0
    while len(list(root.glob("*.yaml"))) - 2 < n:
        base = bundled[i % len(bundled)]
        new_id = f"{base.stem}-syn{i}"
        data = yaml.safe_load(base.read_text(encoding="utf-8"))
        data["id"], data["checkpoints"] = new_id, []
        data["match"]["when"] = {
            "config.dayzero_synthetic": i
        }  # never true: copies are never matched by config
        data.pop("conformance", None)
        data["status"] = "experimental"
        (root / f"{new_id}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        i += 1
    return root


def measure(runs: int, family: str, env: dict[str, str]) -> dict[str, float | bool]:
    cpu, wall, heavy = [], [], False
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", LOOKUP.format(family=family)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.split()
        cpu.append(float(out[0]))
        wall.append(float(out[1]))
        heavy |= "True" in out[2:]
    cli_cpu, cli_wall = [], []
    exe = str(Path(sys.executable).with_name("dayzero"))
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CLI, exe, family], capture_output=True, text=True, check=True, env=env
        ).stdout.split()
        cli_cpu.append(float(out[0]))
        cli_wall.append(float(out[1]))
    ms = lambda xs: round(1000 * statistics.median(xs), 1)  # noqa: E731
    return {
        "lookup_cpu_ms": ms(cpu),
        "lookup_wall_ms": ms(wall),
        "cli_show_json_cpu_ms": ms(cli_cpu),
        "cli_show_json_wall_ms": ms(cli_wall),
        "torch_or_transformers_imported": heavy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--family", default="qwen3")
    parser.add_argument("--synthetic", type=int, default=200)
    parser.add_argument("--out")
    args = parser.parse_args()

    from dayzero.registry.store import default_root

    real = len([p for p in default_root().glob("*.yaml") if p.stem not in ("registry", "rules")])
    env = {**os.environ}
    env.pop("DAYZERO_REGISTRY_ROOT", None)
    result = {
        "family": args.family,
        "targets_ms": {"lookup_cpu": 100, "cli_show_json_cpu": 300},
        "runs": args.runs,
    }
    result["real"] = {"families": real, **measure(args.runs, args.family, env)}
    with tempfile.TemporaryDirectory(prefix="dayzero-bench-") as tmp:
        root = synthetic_root(args.synthetic, Path(tmp))
        from dayzero.registry import store

        store.load(root)  # the synthetic registry is a valid one (cross-file checks pass)
        result["synthetic"] = {
            "families": args.synthetic,
            **measure(args.runs, args.family, {**env, "DAYZERO_REGISTRY_ROOT": str(root)}),
        }
    write_result("registry_lookup", result, args.out)


if __name__ == "__main__":
    main()
