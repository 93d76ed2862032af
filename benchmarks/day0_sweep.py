"""Day-0 at scale: every causal-LM architecture of the installed transformers, drafted and trained one LoRA step.

Writes benchmarks/results/day0_sweep.json (the table, one row per architecture, and the summary: the share
of text architectures that draft and train, and every failure with its reason). `dayzero conformance matrix`
links it from the support matrix; a full run also writes its pages, conformance/reports/day0-sweep.{md,html}.

    python benchmarks/day0_sweep.py [--only llama,qwen2] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model types (default: all)")
    parser.add_argument("--out")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    import transformers

    from dayzero.conformance.sweep import causal_lm_classes, summarize, sweep_one

    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    wanted = set(args.only.split(",")) if args.only else None
    rows = []
    for model_type, arch in causal_lm_classes().items():
        if wanted and model_type not in wanted:
            continue
        row = sweep_one(model_type, arch)
        rows.append(row)
        print(
            f"{'ok  ' if row.trained else 'FAIL'} {model_type:28} {arch:40} {row.reason or ''}"[:200],
            flush=True,
        )
    result = {
        "transformers": transformers.__version__,
        "summary": summarize(rows),
        "rows": [r.as_dict() for r in rows],
    }
    write_result("day0_sweep", result, args.out)
    if not wanted:  # the full table is published on the support matrix
        from dayzero.atomic import atomic_write_text
        from dayzero.conformance.matrix import SWEEP_HTML, SWEEP_PAGE
        from dayzero.conformance.report import default_report_dir
        from dayzero.conformance.sweep import sweep_html, sweep_markdown

        for name, render in ((SWEEP_PAGE, sweep_markdown), (SWEEP_HTML, sweep_html)):
            page = default_report_dir() / name
            atomic_write_text(page, render(result))
            print(f"wrote {page}")


if __name__ == "__main__":
    main()
