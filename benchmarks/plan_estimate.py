"""`dayzero plan`'s memory estimate against the measured peak of the same run on CPU.

For a tiny Qwen2 (hidden 64, 2 layers) and a small one (hidden 256, 4 layers), both with the 50k GPT-2
vocabulary (the model and data of `vs_llamafactory.py`), LoRA and full SFT at batch 8 x cutoff 512: the
plan's estimate (`plan.cost.total_bytes`, runtime included), then a real `dayzero run` of a few steps in a child
process whose peak RSS comes from `wait4`: `estimate_over_measured` is their ratio (the goal: within 0.75-1.25).
The runtime's own memory (Python, torch, transformers, TRL imported, a tokenizer loaded) is measured once by a
child that does just that and shown next to the estimate's runtime part, and the estimate without its runtime
part is compared with what training adds to it (`training_estimate_over_measured`). A benchmark, not a test;
it writes benchmarks/results/plan_estimate.json.

    python benchmarks/plan_estimate.py [--steps 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result
from vs_llamafactory import REFERENCE, child_env, make_model, measured, write_data

SIZES = {
    "tiny": {},
    "small": {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4},
}
RUNTIME = "import torch, transformers, trl, peft, datasets; from dayzero import sdk; " \
          "from transformers import AutoTokenizer; AutoTokenizer.from_pretrained({model!r})"


def recipe(model: Path, data: Path, out: Path, adapter: str, steps: int) -> dict:
    return {
        "name": "estimate",
        "model": {"id": str(model), "family": "qwen2"},
        "data": {"datasets": [{"name": "sft", "path": str(data), "format": "sharegpt"}], "cutoff_len": 512},
        "method": {"stage": "sft", "adapter": adapter, "r": 8, "alpha": 16, "target": "all-linear"},
        "train": {"max_steps": steps, "batch_size": 8, "logging_steps": 1, "save_steps": 100_000,
                  "report_to": "none", "output_dir": str(out)},
        "export": {"enabled": False},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()

    import yaml

    from dayzero import sdk

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = write_data(root / "data", n_sft=200, n_pref=1, n_pre=1)["sft"]
        for size, overrides in SIZES.items():
            model = root / size
            shape = make_model(model, REFERENCE, **overrides)
            runtime = measured([sys.executable, "-c", RUNTIME.format(model=str(model))], child_env(1),
                               root / f"{size}-runtime.txt")
            for adapter in ("lora", "full"):
                spec = recipe(model, data, root / f"{size}-{adapter}", adapter, args.steps)
                plan = sdk.compile(spec, cuda=False)
                path = root / f"{size}-{adapter}.yaml"
                path.write_text(yaml.safe_dump(spec))
                exe = Path(sys.executable).parent / "dayzero"
                run = measured([str(exe), "run", str(path)], child_env(1), root / f"{size}-{adapter}.txt")
                cost = plan.cost
                assert cost is not None
                trained_mb = run["peak_rss_mb"] - runtime["peak_rss_mb"]
                rows.append({
                    "model": size, **{k: shape[k] for k in ("hidden", "layers", "vocab", "parameters")},
                    "adapter": adapter, "trainable": cost.trainable, "lm_head": plan.trainer.lm_head,
                    "estimate_mb": round(cost.total_bytes / 2**20, 1),
                    "estimate_parts_mb": {k: round(getattr(cost, f"{k}_bytes") / 2**20, 1) for k in
                                          ("runtime", "weights", "gradients", "optimizer", "activations",
                                           "workspace", "lm_head")},
                    "runtime_rss_mb": runtime["peak_rss_mb"], "run_peak_rss_mb": run["peak_rss_mb"],
                    "measured_training_mb": trained_mb,
                    "estimate_over_measured": round(cost.total_bytes / 2**20 / run["peak_rss_mb"], 2),
                    "training_estimate_over_measured": round(
                        (cost.total_bytes - cost.runtime_bytes) / 2**20 / max(1, trained_mb), 2),
                })
                print(json.dumps(rows[-1]), flush=True)
    write_result("plan_estimate", {
        "what": "plan.cost.total_bytes against the peak RSS of `dayzero run` (estimate_over_measured), and the "
                "estimate less its runtime part against (run peak) - (runtime alone), CPU, batch 8 x cutoff 512, fp32",
        "goal": "estimate_over_measured within 0.75-1.25",
        "steps": args.steps, "rows": rows,
    }, args.out)


if __name__ == "__main__":
    main()
