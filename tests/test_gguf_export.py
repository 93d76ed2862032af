"""GGUF export: written with the `gguf` package, reloaded with transformers, logits within a tolerance per type.

Families are exported from a tiny instance (the same folder layout a merged export has). Independently of
the writer's own verification, the test reads the metadata back with `gguf.GGUFReader` and, where
transformers rebuilds the config from the GGUF alone, loads it with `from_pretrained(gguf_file=...)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.errors import ExportError, NotSupportedError
from dayzero.sdk.gguf_export import write_gguf

FAMILIES = ["qwen2", "qwen3", "llama3", "phi3", "gemma2", "gemma3", "smollm2"]
# transformers rebuilds these configs from the GGUF metadata alone (Qwen3 and Gemma need keys its loader does
# not read: `key_length`, `query_pre_attn_scalar`)
ALONE = {"qwen2", "llama3", "phi3", "smollm2"}


@pytest.fixture(scope="module")
def tiny_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.tiny import save_tiny

    root = tmp_path_factory.mktemp("gguf")
    out = {}
    for fid in FAMILIES:
        family = registry.get(fid)
        out[fid] = save_tiny(
            family, root / f"{fid}-export", chat_template=ChatTemplate.for_family(family).to_jinja()
        )
    return out


def _field(reader, key: str):
    field = reader.fields.get(key)
    return None if field is None else field.contents()


@pytest.mark.parametrize("fid", FAMILIES)
@pytest.mark.parametrize("gguf_type", ["f16", "bf16", "q8_0"])
def test_gguf_reloads_with_matching_logits(tiny_exports: dict[str, Path], fid: str, gguf_type: str) -> None:
    import gguf

    family = registry.get(fid)
    export = tiny_exports[fid]
    report = write_gguf(export, family, gguf_type)
    assert report.path == export / f"model-{gguf_type}.gguf" and report.path.is_file()
    assert report.max_logit_diff <= report.tolerance
    assert not [p for p in export.iterdir() if p.name.startswith(".")]  # no partial file left

    reader = gguf.GGUFReader(str(report.path))
    tok = json.loads((export / "tokenizer.json").read_text())
    vocab = {**tok["model"]["vocab"], **{t["content"]: t["id"] for t in tok["added_tokens"]}}
    assert _field(reader, "general.architecture") == family.export.gguf_arch
    assert _field(reader, "tokenizer.chat_template") == (export / "chat_template.jinja").read_text()
    eot = family.tokenizer.end_of_turn[0]
    assert _field(reader, "tokenizer.ggml.eos_token_id") == vocab[eot]  # stops where the assistant turn ends
    assert _field(reader, "tokenizer.ggml.eot_token_id") == vocab[eot]
    tokens = _field(reader, "tokenizer.ggml.tokens")
    assert all(tokens[i] == t for t, i in vocab.items())
    config = json.loads((export / "config.json").read_text())
    assert _field(reader, f"{family.export.gguf_arch}.block_count") == config["num_hidden_layers"]


@pytest.mark.parametrize("fid", sorted(ALONE))
def test_transformers_loads_the_gguf_alone(tiny_exports: dict[str, Path], fid: str, tmp_path: Path) -> None:
    """From the file alone (no config.json beside it): config, tensors and all come from the GGUF."""
    import torch
    from transformers import AutoModelForCausalLM

    export = tiny_exports[fid]
    report = write_gguf(export, registry.get(fid), "f16")
    os.link(report.path, tmp_path / "m.gguf")
    ids = torch.tensor([[3, 14, 15, 92, 65, 35]])
    with torch.no_grad():
        ref = AutoModelForCausalLM.from_pretrained(str(export), dtype=torch.float32).eval()(ids).logits
        got = (
            AutoModelForCausalLM.from_pretrained(str(tmp_path), gguf_file="m.gguf", dtype=torch.float32)
            .eval()(ids)
            .logits
        )
    assert float((got - ref).abs().max()) <= 1e-2 * max(1.0, float(ref.abs().max()))


def test_a_wrong_layout_is_caught(tiny_exports: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without llama.cpp's q/k permutation the reloaded Llama computes something else: the export refuses."""
    from dayzero.registry import engines as engines_mod

    table = engines_mod.engines()
    archs = dict(table.gguf.architectures)
    archs["llama"] = archs["llama"].model_copy(update={"permute_qk": False})
    broken = table.model_copy(update={"gguf": table.gguf.model_copy(update={"architectures": archs})})
    monkeypatch.setattr("dayzero.sdk.gguf_export.engines", lambda: broken)
    with pytest.raises(ExportError, match="GGUF's logits differ from the safetensors export"):
        write_gguf(tiny_exports["llama3"], registry.get("llama3"), "f16")
    assert not [
        p for p in tiny_exports["llama3"].iterdir() if ".partial-" in p.name
    ]  # the partial file is gone


@pytest.mark.parametrize("fid", ["glm4", "gpt-oss", "deepseek-v3"])
def test_architectures_gguf_cannot_take_are_refused_with_the_reason(tmp_path: Path, fid: str) -> None:
    with pytest.raises(
        NotSupportedError, match=r"families/engines.yaml gguf.architectures|llama.cpp has no converter"
    ):
        write_gguf(tmp_path, registry.get(fid), "f16")


def test_unknown_type_is_refused(tiny_exports: dict[str, Path]) -> None:
    with pytest.raises(ExportError, match="unknown GGUF type 'q4_k'"):
        write_gguf(tiny_exports["qwen2"], registry.get("qwen2"), "q4_k")


@pytest.mark.slow
def test_cli_exports_a_run_as_gguf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dayzero import sdk
    from dayzero.cli import main

    recipe = {
        "name": "g",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_sft"], "max_samples": 4, "cutoff_len": 128},
        "method": {"stage": "sft", "adapter": "lora", "r": 4},
        "train": {
            "max_steps": 1,
            "batch_size": 2,
            "report_to": "none",
            "output_dir": str(tmp_path / "{name}"),
        },
        "export": {"enabled": False},
        "sample": {"prompt": None},
    }
    run = sdk.run(recipe, console=False).run_dir
    with pytest.raises(SystemExit) as err:
        main(["export", str(run), "--adapter-only", "--gguf"])
    assert err.value.code == 2 and not (run / "export").exists()
    capsys.readouterr()
    main(["export", str(run), "--gguf", "--gguf-type", "q8_0"])
    out = capsys.readouterr().out
    assert "gguf:" in out and (run / "export" / "model-q8_0.gguf").is_file()
    manifest = json.loads((run / "export" / "dayzero_export.json").read_text())
    assert "model-q8_0.gguf" in manifest["files"]  # dayzero wrote it: a later --overwrite may replace it
    main(["export", str(run), "--overwrite"])
    assert not (run / "export" / "model-q8_0.gguf").exists()
