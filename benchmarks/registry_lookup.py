"""Registry lookup cost: `import dayzero.registry` + one `registry.get`, and a cold `dayzero registry show ID --json`.

Measured in fresh interpreters (a cold start is what a tool calling dayzero pays), at the bundled
registry's size and at a synthetic registry of 200 families (copies of the bundled files under new
ids, through `DAYZERO_REGISTRY_ROOT`). Reported: process CPU time (what the issue's targets are in:
lookup < 100 ms, CLI < 300 ms) and wall time, medians (and minima: the machine may be shared) of
several runs; and whether torch or transformers were imported (they must not be).

Conditions, as after a `pip install`: Python's bytecode is cached (`PYTHONDONTWRITEBYTECODE` is dropped
and `PYTHONPYCACHEPREFIX` points at a scratch folder) and the registry's cache of validated files
(`registry/index.py`) is warm after one warm-up run, each in a scratch folder. `lookup_uncached_*` is the
same lookup with that cache off (`DAYZERO_REGISTRY_CACHE=off`): what the first lookup after a change costs.
`reference_import_pydantic_cpu_ms` is `from pydantic import BaseModel` alone, measured alongside: the floor of
any lookup that returns a pydantic model, and the yardstick for numbers taken on a loaded machine.

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
# What any lookup that returns a pydantic model pays, measured in the same conditions: on a shared machine CPU
# time grows with the load (a preempted virtual CPU still counts), so the ratio to this is the portable figure.
REFERENCE = (
    "import time, sys; c = time.process_time(); t = time.perf_counter(); from pydantic import BaseModel; "
    "print(time.process_time() - c, time.perf_counter() - t, False, False)"
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
    from dayzero.registry.paths import NOT_FAMILIES

    bundled = sorted(p for p in root.glob("*.yaml") if p.name not in NOT_FAMILIES)
    i = 0
    while len([p for p in root.glob("*.yaml") if p.name not in NOT_FAMILIES]) < n:
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


def _lookups(
    runs: int, family: str, env: dict[str, str], code: str = LOOKUP
) -> tuple[list[float], list[float], bool]:
    cpu, wall, heavy = [], [], False
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code.format(family=family)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.split()
        cpu.append(float(out[0]))
        wall.append(float(out[1]))
        heavy |= "True" in out[2:]
    return cpu, wall, heavy


def measure(runs: int, family: str, env: dict[str, str]) -> dict[str, float | bool]:
    _lookups(1, family, env)  # warm-up: writes the bytecode and the registry cache
    cpu, wall, heavy = _lookups(runs, family, env)
    uncached_cpu, uncached_wall, heavy_uncached = _lookups(
        runs, family, {**env, "DAYZERO_REGISTRY_CACHE": "off"}
    )
    reference_cpu, _, _ = _lookups(runs, family, env, REFERENCE)
    cli_cpu, cli_wall = [], []
    exe = str(Path(sys.executable).with_name("dayzero"))
    for _ in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", CLI, exe, family], capture_output=True, text=True, check=True, env=env
        ).stdout.split()
        cli_cpu.append(float(out[0]))
        cli_wall.append(float(out[1]))
    cli_cpu, cli_wall = cli_cpu[1:], cli_wall[1:]  # the first one was the warm-up
    ms = lambda xs: round(1000 * statistics.median(xs), 1)  # noqa: E731
    least = lambda xs: round(1000 * min(xs), 1)  # noqa: E731
    return {
        "lookup_cpu_ms": ms(cpu),
        "lookup_cpu_min_ms": least(cpu),
        "lookup_wall_ms": ms(wall),
        "lookup_uncached_cpu_ms": ms(uncached_cpu),
        "lookup_uncached_wall_ms": ms(uncached_wall),
        "reference_import_pydantic_cpu_ms": ms(reference_cpu),
        "lookup_over_reference": round(statistics.median(cpu) / statistics.median(reference_cpu), 2),
        "cli_show_json_cpu_ms": ms(cli_cpu),
        "cli_show_json_cpu_min_ms": least(cli_cpu),
        "cli_show_json_wall_ms": ms(cli_wall),
        "torch_or_transformers_imported": heavy or heavy_uncached,
    }


def _installed_like(env: dict[str, str], scratch: Path) -> dict[str, str]:
    """Bytecode cached and a registry cache of its own, each in ``scratch`` (nothing written elsewhere)."""
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **env,
        "PYTHONPYCACHEPREFIX": str(scratch / "pyc"),
        "DAYZERO_REGISTRY_CACHE": str(scratch / "cache"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--family", default="qwen3")
    parser.add_argument("--synthetic", type=int, default=200)
    parser.add_argument("--out")
    args = parser.parse_args()

    from dayzero.registry.paths import NOT_FAMILIES
    from dayzero.registry.store import default_root

    real = len([p for p in default_root().glob("*.yaml") if p.name not in NOT_FAMILIES])
    result = {
        "family": args.family,
        "targets_ms": {"lookup_cpu": 100, "cli_show_json_cpu": 300},
        "runs": args.runs,
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="dayzero-bench-") as tmp:
        env = _installed_like({**os.environ}, Path(tmp))
        env.pop("DAYZERO_REGISTRY_ROOT", None)
        result["real"] = {"families": real, **measure(args.runs, args.family, env)}
        root = synthetic_root(args.synthetic, Path(tmp))
        from dayzero.registry import store

        store.load(root)  # the synthetic registry is a valid one (cross-file checks pass)
        result["synthetic"] = {
            "families": args.synthetic,
            **measure(args.runs, args.family, {**env, "DAYZERO_REGISTRY_ROOT": str(root)}),
        }
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    write_result("registry_lookup", result, args.out)


if __name__ == "__main__":
    main()
