"""Quickstart wall time: `dayzero run quickstart` (or `quickstart-vl`) in a fresh directory (train, export,
serve, answer).

The README promises under 3 minutes on 2 CPU cores for the text quickstart and issue 13 under two minutes for
the vision one; this is where that is measured, not in a test.

    python benchmarks/quickstart.py [--recipe quickstart|quickstart-vl] [--out FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

TARGET_SECONDS = {"quickstart": 180, "quickstart-vl": 120}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(TARGET_SECONDS), default="quickstart")
    parser.add_argument("--out")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("dayzero")
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        proc = subprocess.run([str(exe), "run", args.recipe], cwd=work, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    reply = next((ln for ln in proc.stdout.splitlines() if ln.startswith("sample reply:")), "")
    stages = [ln.strip() for ln in proc.stderr.splitlines() if ln.startswith("stage ")]
    write_result(
        args.recipe.replace("-", "_"),
        {"seconds": round(elapsed, 1), "target_seconds": TARGET_SECONDS[args.recipe], "reply": reply,
         "stages": stages},
        args.out,
    )


if __name__ == "__main__":
    main()
