"""Export: merged weights verified against base+adapter, the training template, eos ids, atomicity, adapter lint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dayzero import registry, sdk
from dayzero.errors import ExportError

pytestmark = pytest.mark.slow

# Qwen2.5's ChatML with its default system prompt, written out by hand from the official template
# (llama.cpp/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja): the exported tokenizer must render this.
CONVERSATION = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
EXPECTED_CHATML = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
)


def train_tiny(root: Path, name: str, **method: Any) -> Path:
    recipe = {
        "name": name,
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_sft"], "max_samples": 8, "cutoff_len": 256},
        "method": {"stage": "sft", "adapter": "lora", "r": 4, "alpha": 8, **method},
        "train": {"max_steps": 3, "batch_size": 2, "learning_rate": 5e-3, "report_to": "none",
                  "output_dir": str(root / "{name}")},
        "export": {"enabled": False},
    }
    return sdk.run(recipe, console=False).run_dir


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("runs"), "lora")


def test_merged_export_matches_base_plus_adapter(lora_run: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "merged"
    report = sdk.export(lora_run, out=out)
    assert report.merged and report.max_logit_diff is not None and report.max_logit_diff <= 1e-5
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "Modelfile"} <= names
    assert any(n.endswith(".safetensors") for n in names) and not any(n.endswith(".bin") for n in names)

    # Independently of the export's own check: base + adapter through peft, on other input ids.
    base = AutoModelForCausalLM.from_pretrained(str(lora_run / "base"))
    reference = PeftModel.from_pretrained(base, str(lora_run / "final")).eval()
    merged = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    ids = torch.tensor([[5, 17, 99, 230, 7, 311, 42, 8]])
    with torch.no_grad():
        diff = (merged(ids).logits - reference(ids).logits).abs().max().item()
    assert diff < 1e-5
    assert merged.dtype == base.dtype
    # The adapter changed something: the merged model is not the base (peft wrapped `base` in place).
    fresh = AutoModelForCausalLM.from_pretrained(str(lora_run / "base")).eval()
    with torch.no_grad():
        assert (merged(ids).logits - fresh(ids).logits).abs().max().item() > 1e-4


def test_export_carries_the_training_template_and_eos(lora_run: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, GenerationConfig

    out = tmp_path / "merged"
    sdk.export(lora_run, out=out)
    tok = AutoTokenizer.from_pretrained(str(out))
    # The tiny base shipped no template: the family's generated one was used in training and is saved.
    assert tok.apply_chat_template(CONVERSATION, tokenize=False) == EXPECTED_CHATML
    eos = GenerationConfig.from_pretrained(str(out)).eos_token_id
    eos = eos if isinstance(eos, list) else [eos]
    assert tok.convert_tokens_to_ids("<|im_end|>") in eos  # family.serving.generation_eos / end of turn
    assert tok.convert_tokens_to_ids("<|endoftext|>") in eos
    modelfile = (out / "Modelfile").read_text()
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and '\nFROM .\nTEMPLATE """' in modelfile
    manifest = json.loads((out / "dayzero_export.json").read_text())
    assert manifest["merged"] is True and manifest["max_logit_diff"] <= 1e-5


def test_failed_check_leaves_nothing_that_looks_complete(
    lora_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dayzero.sdk import exporter as export_mod

    out = tmp_path / "merged"
    monkeypatch.setattr(export_mod, "_default_tolerance", lambda model, reference: -1.0)  # no difference can pass
    with pytest.raises(ExportError, match=r"merged logits differ from base\+adapter by .* \(tolerance -1\)"):
        sdk.export(lora_run, out=out)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.undo()

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(export_mod, "_check_template", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sdk.export(lora_run, out=out)
    assert list(tmp_path.iterdir()) == []


def test_adapter_only_export_is_linted_for_vllm(tmp_path: Path) -> None:
    run = train_tiny(tmp_path, "dora", adapter="dora", r=12, alpha=24)
    report = sdk.export(run, out=tmp_path / "adapter", merge=False)
    assert not report.merged
    names = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= names
    # vLLM serves no DoRA (vllm/lora/peft_helper.py: "vLLM does not yet support DoRA."), whatever the family.
    assert any("DoRA" in line and "families/engines.yaml vllm.lora.dora" in line for line in report.lint)
    # the same lint serving refuses on: the export reports exactly its problems
    from dayzero.sdk.serve import lint_adapter_dir

    base_vocab = json.loads((run / "base" / "config.json").read_text())["vocab_size"]
    problems = lint_adapter_dir(tmp_path / "adapter", registry.get("qwen2"), base_vocab)
    assert report.lint == [str(p) for p in problems]


def test_quantized_run_merge_is_checked_against_the_4bit_model(lora_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    run = tmp_path / "run"
    shutil.copytree(lora_run, run)
    (run / "final" / "dayzero_probe.safetensors").unlink()  # the probe was of the full-precision model
    info = json.loads((run / "run.json").read_text())
    quant = {"method": "bnb-4bit", "llm_int8_skip_modules": ["lm_head"], "load_in_4bit": True,
             "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True, "bnb_4bit_compute_dtype": "float32",
             "not_quantized": [], "export_tolerance": 1e-9}  # no 4-bit model is that close to its merge
    info["plan"]["adapter"]["quantization"] = quant
    (run / "run.json").write_text(json.dumps(info))
    with pytest.raises(ExportError, match="differs from the quantized model \\+ adapter by a relative L2 error") as err:
        sdk.export(run, out=tmp_path / "x")
    assert "adapter-only" in str(err.value)
    assert not (tmp_path / "x").exists()  # nothing that looks complete is left behind

    quant["export_tolerance"] = 0.25
    (run / "run.json").write_text(json.dumps(info))
    report = sdk.export(run, out=tmp_path / "y")
    assert report.max_logit_diff <= 1e-5 and 0 < report.quantized_relative_error <= 0.25


def test_full_weights_export_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from dayzero.cli import main

    run = train_tiny(tmp_path, "freeze", adapter="freeze", trainable_layers=1)
    main(["export", str(run), "--out", str(tmp_path / "out")])
    assert "merged logits match" in capsys.readouterr().out
    exported = AutoModelForCausalLM.from_pretrained(str(tmp_path / "out")).eval()
    trained = AutoModelForCausalLM.from_pretrained(str(run / "final")).eval()
    ids = torch.tensor([[3, 14, 15, 92, 65]])
    with torch.no_grad():
        assert torch.equal(exported(ids).logits, trained(ids).logits)
    with pytest.raises(ExportError, match="adapter-only export needs a peft adapter"):
        sdk.export(run, out=tmp_path / "adapter", merge=False)


def test_export_must_reproduce_the_trained_model(lora_run: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(lora_run, run)
    probe = run / "final" / "dayzero_probe.safetensors"
    tensors = load_file(str(probe))  # the logits the model had in memory at the end of training
    tensors["logits"] = tensors["logits"] + 0.01  # as if the reloaded adapter computed something else
    save_file(tensors, str(probe))
    with pytest.raises(ExportError, match=r"differs from the trained model by 0\.01"):
        sdk.export(run, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("adapter", ["pissa", "oft"])
def test_reinitialised_adapters_merge_to_the_trained_model(tmp_path: Path, adapter: str) -> None:
    # PiSSA rewrites the base at init and OFT rotates it: the merged export must still equal the trained model.
    extra = {"oft_block_size": 8, "target": "attention"} if adapter == "oft" else {}
    run = train_tiny(tmp_path, adapter, adapter=adapter, **extra)
    report = sdk.export(run, out=tmp_path / "merged")
    assert report.max_logit_diff is not None and report.max_logit_diff <= 1e-5
    lint = sdk.export(run, out=tmp_path / "adapter", merge=False).lint
    assert any(("PiSSA" in line) if adapter == "pissa" else ("LoRA adapters only" in line) for line in lint)


@pytest.mark.reference
def test_official_template_of_the_base_is_trained_and_exported(reference_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from dayzero import registry
    from dayzero.sdk.tiny import save_tiny

    official = (reference_dir / "llama.cpp/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja").read_text()
    base = save_tiny(registry.get("qwen2"), tmp_path / "base", chat_template=official)
    recipe = {
        "name": "official", "model": {"id": str(base)},
        "data": {"datasets": ["demo_sft"], "max_samples": 8, "cutoff_len": 256},
        "method": {"stage": "sft", "adapter": "lora", "r": 4, "alpha": 8},
        "train": {"max_steps": 2, "batch_size": 2, "report_to": "none", "output_dir": str(tmp_path / "run")},
        "sample": {"prompt": None},
    }
    result = sdk.run(recipe, console=False)
    assert result.plan.model.matched_by == "config" and result.export_dir is not None
    exported = AutoTokenizer.from_pretrained(str(result.export_dir))
    assert exported.chat_template == official  # the base's own template, byte for byte
    assert exported.apply_chat_template(CONVERSATION, tokenize=False) == EXPECTED_CHATML


def test_large_exports_are_sharded(lora_run: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    run = tmp_path / "run"
    shutil.copytree(lora_run, run)
    info = json.loads((run / "run.json").read_text())
    info["plan"]["export"]["max_shard_size"] = "100KB"  # the tiny model is about 0.4 MB in fp32
    (run / "run.json").write_text(json.dumps(info))
    out = tmp_path / "sharded"
    report = sdk.export(run, out=out)
    shards = sorted(p.name for p in out.glob("model-*.safetensors"))
    assert len(shards) > 1 and (out / "model.safetensors.index.json").is_file()
    assert report.max_logit_diff is not None and report.max_logit_diff <= 1e-5
    assert AutoModelForCausalLM.from_pretrained(str(out)) is not None


def test_bf16_base_merges_in_bf16_within_the_16_bit_tolerance(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from dayzero import registry
    from dayzero.sdk.tiny import save_tiny

    base = save_tiny(registry.get("qwen2"), tmp_path / "base")
    AutoModelForCausalLM.from_pretrained(str(base)).to(torch.bfloat16).save_pretrained(str(base))
    recipe = {
        "name": "bf16", "model": {"id": str(base)},
        "data": {"datasets": ["demo_sft"], "max_samples": 8, "cutoff_len": 256},
        "method": {"stage": "sft", "adapter": "lora", "r": 8, "alpha": 16},
        "train": {"max_steps": 6, "batch_size": 2, "learning_rate": 5e-3, "report_to": "none",
                  "output_dir": str(tmp_path / "run")},
        "sample": {"prompt": None},
    }
    result = sdk.run(recipe, console=False)
    assert result.export_dir is not None
    assert AutoModelForCausalLM.from_pretrained(str(result.export_dir)).dtype == torch.bfloat16  # the base dtype
    trained = load_file(str(result.run_dir / "final" / "dayzero_probe.safetensors"))["logits"]
    info = json.loads((result.run_dir / "run.json").read_text())
    assert 0 < info["export"]["max_logit_diff"] <= 3e-2 * float(trained.abs().max())


def test_default_export_dir_follows_the_run_dir(lora_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "moved" / "run"
    shutil.copytree(lora_run, run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = sdk.export(run)  # no --out: the run's own export/ folder, not one relative to the working dir
    assert report.out == run / "export" and (run / "export" / "config.json").is_file()
    assert list(elsewhere.iterdir()) == []
