"""dayzero against LLaMA-Factory 0.9.5 on the same work, side by side, in one run.

Both sides train the same tiny random Qwen2 (hidden 64, 2 layers, the 50k GPT-2 vocabulary from the
vocab-only GGUF in shared/reference plus the ChatML tokens) on the same synthetic sharegpt data (every
conversation opens with a system turn, so LLaMA-Factory's `qwen` template and dayzero's qwen2 template render
the same ChatML text), cutoff 512, batch 8, fp32 on CPU, with the same thread count:

- `lora`: SFT, LoRA r8 alpha 16 on every linear layer;
- `full`: SFT, full fine-tuning;
- `dpo`: DPO (beta 0.1, sigmoid loss), LoRA r8, the adapter-disabled model as reference.

Each run is a child process (`dayzero run RECIPE` / `llamafactory-cli train CONFIG`); its CPU seconds (user +
system of the child and everything it waited for, from `wait4`), peak RSS (the largest process of the tree)
and wall seconds are recorded, with the tokens it trained on (non-pad tokens, as each trainer counts them:
TRL's `num_tokens`, transformers' `num_input_tokens_seen` with `non_padding`) and the loss of each step. The
sides alternate (A, B, A, B, then B, A for the next method...) so that the machine's load drifts over both.
The machine is shared (2 cores, other people's jobs): wall time is noise there, CPU seconds are the fair
measure, and each figure says so.

The preprocessing pair tokenizes 20,000 sharegpt conversations (ChatML, no truncation) with each side's own
data path in one process (dayzero `prepare`, LLaMA-Factory `get_dataset`), next to the raw batched-tokenizer
floor (`tokenizer(texts)` on the already rendered texts), all as CPU seconds of that work alone.

    python benchmarks/vs_llamafactory.py --setup          # once: LLaMA-Factory in its own venv
    python benchmarks/vs_llamafactory.py [--methods lora,full,dpo] [--rounds 2] [--steps 30] [--threads 2]

A benchmark, never a test: it writes benchmarks/results/vs_llamafactory.json. A subset of `--methods` (or
`--no-preprocess`, `--preprocess-only`) keeps the file's other rows as they were, marked `kept_from_earlier_run`
with their own time; each run records the 1-minute load average at its start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result
from preprocess import WORDS  # the same word list as the preprocessing benchmark

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
LF_VERSION = "0.9.5"
DEFAULT_VENV = Path.home() / ".cache" / "dayzero-bench" / "llamafactory-venv"
CHAT_TOKENS = ["<|im_start|>", "<|im_end|>"]
LORA = {"r": 8, "alpha": 16}
LR = 1e-4


# -- setup ---------------------------------------------------------------------------------------------


def setup(venv: Path) -> None:
    """LLaMA-Factory in its own venv (see shared/STACK-NOTES.md): torch pinned, torchvision/torchaudio removed,
    a stub `torchaudio` (its data/mm_plugin.py imports it at module level; audio is never used here)."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    constraint = venv / "constraints.txt"
    constraint.write_text("torch==2.13.0\n")
    pip = [str(venv / "bin" / "pip"), "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-c", str(constraint), f"llamafactory=={LF_VERSION}"], check=True)
    subprocess.run([*pip, "uninstall", "-y", "torchvision", "torchaudio", "torchcodec"], check=False)
    print(f"LLaMA-Factory {LF_VERSION} in {venv}")


def stub_dir(work: Path) -> Path:
    stub = work / "stub" / "torchaudio"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text('"""Stub: LLaMA-Factory imports torchaudio at module level; audio is unused."""\n')
    return stub.parent


# -- the shared model and data -----------------------------------------------------------------------


def make_model(out: Path, reference: Path, **size: int) -> dict[str, Any]:
    import torch
    import transformers
    from transformers import AutoTokenizer

    from dayzero import registry
    from dayzero.sdk.tiny import tiny_config

    tok = AutoTokenizer.from_pretrained(str(reference / "llama.cpp" / "models"), gguf_file="ggml-vocab-gpt-2.gguf")
    tok.add_special_tokens({"additional_special_tokens": CHAT_TOKENS})
    tok.eos_token, tok.pad_token = "<|im_end|>", "<|endoftext|>"
    family = registry.get("qwen2")
    config = tiny_config(family, vocab_size=len(tok))
    for key, value in size.items():  # e.g. a larger hidden size (benchmarks/plan_estimate.py)
        setattr(config, key, value)
    if "num_hidden_layers" in size:
        config.layer_types = config.layer_types[:1] * size["num_hidden_layers"]
    config.bos_token_id, config.eos_token_id, config.pad_token_id = None, tok.eos_token_id, tok.pad_token_id
    torch.manual_seed(0)
    model = getattr(transformers, family.architecture.model_class)(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return {"class": type(model).__name__, "vocab": len(tok), "hidden": config.hidden_size,
            "layers": config.num_hidden_layers, "parameters": sum(p.numel() for p in model.parameters()),
            "tie_word_embeddings": bool(config.tie_word_embeddings)}


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize() + "."


def conversation(rng: random.Random, turns: tuple[int, int], reply: tuple[int, int]) -> list[dict[str, str]]:
    conv = [{"from": "system", "value": sentence(rng, 5, 15)}]
    for _ in range(rng.randint(*turns)):
        conv.append({"from": "human", "value": " ".join(sentence(rng, 4, 20) for _ in range(rng.randint(1, 3)))})
        conv.append({"from": "gpt", "value": " ".join(sentence(rng, 5, 25) for _ in range(rng.randint(*reply)))})
    return conv


def write_data(folder: Path, n_sft: int, n_pref: int, n_pre: int) -> dict[str, Path]:
    """sharegpt files for both sides, and LLaMA-Factory's dataset_info.json naming them."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "sft": [{"conversations": conversation(rng, (1, 4), (2, 8))} for _ in range(n_sft)],
        "pre": [{"conversations": conversation(rng, (1, 4), (1, 4))} for _ in range(n_pre)],
    }
    pref = []
    for _ in range(n_pref):
        conv = conversation(rng, (1, 2), (1, 4))[:-1]
        pref.append({"conversations": conv,
                     "chosen": {"from": "gpt", "value": " ".join(sentence(rng, 5, 25) for _ in range(3))},
                     "rejected": {"from": "gpt", "value": " ".join(sentence(rng, 5, 25) for _ in range(3))}})
    files["dpo"] = pref
    paths = {}
    for name, rows in files.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(rows), encoding="utf-8")
    info = {name: {"file_name": f"{name}.json", "formatting": "sharegpt", "columns": {"messages": "conversations"}}
            for name in ("sft", "pre")}
    info["dpo"] = {"file_name": "dpo.json", "formatting": "sharegpt", "ranking": True,
                   "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}}
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=1))
    return paths


# -- one training run of each side -------------------------------------------------------------------


def child_env(threads: int, extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DISABLE_VERSION_CHECK="1",
               WANDB_DISABLED="true")
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return env


def measured(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run `cmd`; its CPU seconds (user + system, the child and its waited-for descendants) and peak RSS."""
    start, load = time.perf_counter(), os.getloadavg()[0]  # the shared machine's load around the run
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}); see the tail of {log}:\n{log.read_text()[-3000:]}")
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "user_s": round(usage.ru_utime, 2),
            "system_s": round(usage.ru_stime, 2), "wall_s": round(time.perf_counter() - start, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "load_average_1m": [round(load, 2), round(os.getloadavg()[0], 2)]}


def dayzero_run(method: str, model: Path, data: dict[str, Path], work: Path, steps: int, threads: int) -> dict:
    import yaml

    out = work / "run"
    stage = "dpo" if method == "dpo" else "sft"
    dataset = {"name": stage, "path": str(data[stage]), "format": "sharegpt",
               "kind": "preference" if stage == "dpo" else "sft"}
    recipe = {
        "name": "vs-lf",
        "model": {"id": str(model), "family": "qwen2"},
        "data": {"datasets": [dataset], "cutoff_len": 512},
        "method": {"stage": stage, "adapter": "full" if method == "full" else "lora", **LORA, "dropout": 0.0,
                   "target": "all-linear", **({"beta": 0.1} if stage == "dpo" else {})},
        "train": {"max_steps": steps, "batch_size": 8, "learning_rate": LR, "logging_steps": 1, "save_steps": 100_000,
                  "report_to": "none", "output_dir": str(out), "seed": 0},
        "export": {"enabled": False},
    }
    path = work / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    exe = Path(sys.executable).parent / "dayzero"
    fig = measured([str(exe), "run", str(path), "--overwrite"], child_env(threads), work / "log.txt")
    history = [json.loads(line) for line in (out / "logs" / "history.jsonl").read_text().splitlines()]
    steps_logged = [h for h in history if "loss" in h]
    fig["tokens"] = int(steps_logged[-1]["num_tokens"])
    fig["losses"] = [round(float(h["loss"]), 4) for h in steps_logged]
    return fig


def lf_run(method: str, model: Path, data_dir: Path, work: Path, steps: int, threads: int, venv: Path,
           stub: Path) -> dict:
    import yaml

    stage = "dpo" if method == "dpo" else "sft"
    config = {
        "model_name_or_path": str(model), "trust_remote_code": False,
        "stage": stage, "do_train": True, "finetuning_type": "full" if method == "full" else "lora",
        "lora_rank": LORA["r"], "lora_alpha": LORA["alpha"], "lora_dropout": 0.0, "lora_target": "all",
        "dataset": stage, "dataset_dir": str(data_dir), "template": "qwen", "cutoff_len": 512,
        "overwrite_cache": True, "output_dir": str(work / "out"), "logging_steps": 1, "save_strategy": "no",
        "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "learning_rate": LR, "max_steps": steps,
        "lr_scheduler_type": "linear", "warmup_steps": 0, "bf16": False, "fp16": False, "report_to": "none",
        "seed": 0, "dataloader_num_workers": 0, "include_num_input_tokens_seen": "non_padding", "plot_loss": False,
        "overwrite_output_dir": True,
        **({"pref_beta": 0.1, "pref_loss": "sigmoid"} if stage == "dpo" else {}),
    }
    path = work / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    fig = measured([str(venv / "bin" / "llamafactory-cli"), "train", str(path)], child_env(threads, stub),
                   work / "log.txt")
    state = json.loads((work / "out" / "trainer_state.json").read_text())
    steps_logged = [h for h in state["log_history"] if "loss" in h]
    fig["tokens"] = int(steps_logged[-1]["num_input_tokens_seen"])
    fig["losses"] = [round(float(h["loss"]), 4) for h in steps_logged]
    return fig


def summarize(runs: list[dict]) -> dict[str, Any]:
    cpu = sum(r["cpu_s"] for r in runs)
    tokens = sum(r["tokens"] for r in runs)
    return {"runs": runs, "cpu_s_total": round(cpu, 2), "tokens_total": tokens,
            "tokens_per_cpu_s": round(tokens / cpu, 1), "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


# -- preprocessing -------------------------------------------------------------------------------------

DAYZERO_PRE = r"""
import json, sys, time
from transformers import AutoTokenizer
from dayzero import registry
from dayzero.sdk.data import DataConfig, prepare
from dayzero.sdk.templates import ChatTemplate
model, path, half, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tok = AutoTokenizer.from_pretrained(model)
template = ChatTemplate.for_family(registry.get("qwen2"))
roles = {"system": "system", "human": "user", "gpt": "assistant"}
texts = [template.render([{"role": roles[m["from"]], "content": m["value"]} for m in r["conversations"]])
         for r in json.load(open(path))]
def config(p):
    return DataConfig(datasets=[{"path": p, "format": "sharegpt"}], cutoff_len=10**7)
prepare(config(half), stage="sft", template=template, tokenizer=tok)  # imports (datasets, pyarrow) outside the timing
times = {"full": [], "half": [], "floor": []}
for _ in range(repeat):  # interleaved, so the shared machine's load drifts over all three alike
    for name, p in (("full", path), ("half", half)):
        t = time.process_time(); prepared = prepare(config(p), stage="sft", template=template, tokenizer=tok)
        times[name].append(time.process_time() - t)
        if name == "full":
            full = prepared
        else:
            half_tokens = prepared.stats.tokens
    t = time.process_time(); ids = tok(texts, add_special_tokens=False)["input_ids"]
    times["floor"].append(time.process_time() - t)
best = {k: min(v) for k, v in times.items()}
print(json.dumps({"cpu_s": round(best["full"], 3), "floor_cpu_s": round(best["floor"], 3), "rows": full.stats.train_rows,
                  "tokens": full.stats.tokens, "floor_tokens": sum(map(len, ids)),
                  "half": {"rows": len(texts) // 2, "cpu_s": round(best["half"], 3), "tokens": half_tokens},
                  "runs_cpu_s": {k: [round(x, 2) for x in v] for k, v in times.items()}}))
"""

LF_PRE = r"""
import json, sys, time
from llamafactory.hparams import get_train_args
from llamafactory.model import load_tokenizer
from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
model, data_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
args = dict(model_name_or_path=model, stage="sft", do_train=True, finetuning_type="lora", dataset="pre",
            dataset_dir=data_dir, template="qwen", cutoff_len=10**7, overwrite_cache=True, output_dir=out,
            report_to="none", bf16=False)
model_args, data_args, training_args, finetuning_args, _ = get_train_args(args)
tokenizer_module = load_tokenizer(model_args)
template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
best = None
for _ in range(2):
    t = time.process_time()
    module = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)
    best = min(best or 1e9, time.process_time() - t)
ds = module["train_dataset"]
print(json.dumps({"cpu_s": round(best, 3), "rows": len(ds), "tokens": sum(len(x) for x in ds["input_ids"])}))
"""


def preprocessing(model: Path, data: dict[str, Path], work: Path, venv: Path, stub: Path, repeat: int = 3
                  ) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    env = child_env(1)
    half = work / "pre_half.json"  # the first 10k conversations: is the cost linear in the data size?
    rows = json.loads(data["pre"].read_text(encoding="utf-8"))
    half.write_text(json.dumps(rows[: len(rows) // 2]), encoding="utf-8")
    dz = subprocess.run([sys.executable, "-c", DAYZERO_PRE, str(model), str(data["pre"]), str(half), str(repeat)],
                        env=env, check=True, capture_output=True, text=True)
    lf = subprocess.run([str(venv / "bin" / "python"), "-c", LF_PRE, str(model), str(data["pre"].parent),
                         str(work / "lf-out")], env=child_env(1, stub), check=True, capture_output=True, text=True)
    d, f = json.loads(dz.stdout.splitlines()[-1]), json.loads(lf.stdout.splitlines()[-1])
    return {
        "what": "20k sharegpt conversations, ChatML, no truncation, one process; CPU seconds of the data step alone "
                f"(dayzero: best of {repeat}, interleaved with the floor and with the first 10k conversations; "
                "LLaMA-Factory: best of 2), floor = tokenizer(texts) on the rendered texts",
        "dayzero": d, "llamafactory": f,
        "dayzero_fraction_of_floor": round(d["floor_cpu_s"] / d["cpu_s"], 3),
        "dayzero_cpu_s_per_token_20k_over_10k": round(
            (d["cpu_s"] / d["tokens"]) / (d["half"]["cpu_s"] / d["half"]["tokens"]), 3),
        "llamafactory_fraction_of_floor": round(d["floor_cpu_s"] / f["cpu_s"], 3),
        "dayzero_over_llamafactory_speed": round(f["cpu_s"] / d["cpu_s"], 3),
    }


# -- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="store_true", help="Install LLaMA-Factory into --venv, then exit.")
    parser.add_argument("--venv", default=str(DEFAULT_VENV), help="LLaMA-Factory's own venv.")
    parser.add_argument("--methods", default="lora,full,dpo")
    parser.add_argument("--rounds", type=int, default=2, help="Runs per side and method (alternating).")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-preprocess", action="store_true")
    parser.add_argument("--preprocess-repeat", type=int, default=3, help="Best of N for dayzero's preprocessing.")
    parser.add_argument("--preprocess-only", action="store_true",
                        help="Only the preprocessing pair, merged into the existing result file.")
    parser.add_argument("--reference", default=str(REFERENCE))
    parser.add_argument("--out")
    args = parser.parse_args()
    venv = Path(args.venv)
    if args.setup:
        setup(venv)
        return
    if not (venv / "bin" / "llamafactory-cli").exists():
        sys.exit(f"LLaMA-Factory is not installed in {venv}: run with --setup first")

    path = Path(args.out) if args.out else Path(__file__).resolve().parent / "results" / "vs_llamafactory.json"
    earlier = json.loads(path.read_text()) if path.exists() else {}
    result: dict[str, Any] = {
        "note": "The machine is shared with other jobs: wall seconds are noisy. CPU seconds (user + system of each "
                "child process tree) and the alternating order (A, B, A, B) are what make the comparison fair.",
        "llamafactory": LF_VERSION, "steps": args.steps, "batch_size": 8, "cutoff_len": 512, "threads": args.threads,
        "load_average_1m_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stub = stub_dir(root)
        result["model"] = make_model(root / "model", Path(args.reference))
        data = write_data(root / "data", n_sft=2000, n_pref=1000, n_pre=20_000)
        if args.preprocess_only:
            earlier.pop("benchmark", None)
            earlier.pop("environment", None)
            earlier["preprocessing"] = preprocessing(root / "model", data, root / "pre", venv, stub,
                                                     args.preprocess_repeat)
            earlier["preprocessing"]["load_average_1m"] = round(os.getloadavg()[0], 2)
            earlier["preprocessing"]["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            write_result("vs_llamafactory", earlier, args.out)
            print(json.dumps(earlier["preprocessing"], indent=1))
            return
        methods = args.methods.split(",")
        # A subset of methods (or --no-preprocess) must not erase the other rows of the result file: they are
        # kept as they were, each with the time of its own run, and say so.
        for name in ("lora", "full", "dpo", "preprocessing"):
            skipped = name not in methods if name != "preprocessing" else args.no_preprocess
            if skipped and name in earlier:
                kept = dict(earlier[name])
                kept.setdefault("when", earlier.get("environment", {}).get("when"))
                kept["kept_from_earlier_run"] = True
                result[name] = kept
        sides = {"dayzero": dayzero_run, "llamafactory": lf_run}
        flip = False
        for method in methods:
            runs: dict[str, list[dict]] = {"dayzero": [], "llamafactory": []}
            for i in range(args.rounds):
                order = ["dayzero", "llamafactory"] if (i % 2 == 0) != flip else ["llamafactory", "dayzero"]
                for name in order:
                    work = root / f"{method}-{name}-{i}"
                    work.mkdir()
                    if name == "dayzero":
                        fig = sides[name](method, root / "model", data, work, args.steps, args.threads)
                    else:
                        fig = lf_run(method, root / "model", root / "data", work, args.steps, args.threads, venv,
                                     stub)
                    runs[name].append(fig)
                    print(f"{method} {name} round {i}: {fig['cpu_s']} CPU-s, {fig['tokens']} tokens, "
                          f"{fig['peak_rss_mb']} MB", flush=True)
            flip = not flip
            dz, lf = summarize(runs["dayzero"]), summarize(runs["llamafactory"])
            result[method] = {
                "dayzero": dz, "llamafactory": lf,
                "tokens_per_cpu_s_ratio": round(dz["tokens_per_cpu_s"] / lf["tokens_per_cpu_s"], 3),
                "peak_rss_ratio": round(dz["peak_rss_mb"] / lf["peak_rss_mb"], 3),
                "goal": "tokens_per_cpu_s_ratio >= 1.1 and peak_rss_ratio <= 1.0",
                "steps": args.steps, "rounds": args.rounds,
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            write_result("vs_llamafactory", result, args.out)  # partial results survive an interruption
        if not args.no_preprocess:
            result["preprocessing"] = preprocessing(root / "model", data, root / "pre", venv, stub,
                                                    args.preprocess_repeat)
            result["preprocessing"]["load_average_1m"] = round(os.getloadavg()[0], 2)
            result["preprocessing"]["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    write_result("vs_llamafactory", result, args.out)
    print(json.dumps({k: v for k, v in result.items() if k in ("lora", "full", "dpo", "preprocessing")}, indent=1,
                     default=str)[:4000])


if __name__ == "__main__":
    main()
