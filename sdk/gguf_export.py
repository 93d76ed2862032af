"""GGUF export: a merged export folder written as `model-<type>.gguf`, then verified by reloading it.

The file is written with the `gguf` package's writer, its tensor-name tables (`get_tensor_name_map`:
transformers module names -> llama.cpp tensor names) and its quantizer, laid out as llama.cpp's
converter does for the family's architecture (`export.gguf_arch`; what differs per architecture is in
the engine table, `families/engines.yaml` gguf). The metadata carries the hyperparameters, the
tokenizer (tokens, merges, token types, special ids), the training chat template and the family's stop
tokens (eos = the end-of-turn token, eot, and the generation eos ids), so llama.cpp and Ollama stop
where training taught the model to stop.

Verification: transformers loads the GGUF back (`gguf_file=`, dequantizing it) and its logits on a
probe batch must equal the safetensors export's within the per-type tolerance of the engine table.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dayzero.errors import ExportError, NotSupportedError, Where
from dayzero.registry import Family
from dayzero.registry.engines import engines

GGUF_TYPES = ("f16", "bf16", "q8_0")


@dataclass
class GgufReport:
    path: Path
    gguf_type: str
    arch: str
    max_logit_diff: float
    tolerance: float
    tensors: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path.name,
            "type": self.gguf_type,
            "arch": self.arch,
            "tensors": self.tensors,
            "max_logit_diff": self.max_logit_diff,
            "tolerance": self.tolerance,
        }


def gguf_architecture(family: Family) -> str:
    """The family's GGUF architecture, refused with the reason when dayzero cannot write it."""
    arch = family.export.gguf_arch
    if arch is None:
        raise NotSupportedError(
            f"GGUF export of `{family.id}`: llama.cpp has no converter for its architecture",
            where=Where(file=f"families/{family.id}.yaml", field="export.gguf_arch"),
        )
    table = engines().gguf.architectures
    if arch not in table:
        raise NotSupportedError(
            f"GGUF export of `{family.id}`: its GGUF architecture `{arch}` is not one dayzero writes "
            f"(families/engines.yaml gguf.architectures: {sorted(table)})",
            where=Where(file=f"families/{family.id}.yaml", field="export.gguf_arch"),
            hint="convert the merged export with llama.cpp's convert_hf_to_gguf.py",
        )
    return arch


def _run_family(run_dir: Path) -> Family:
    """The family as the run's plan resolved it (its view: checkpoint overrides applied), no registry lookup."""
    from .exporter import _recorded_plan
    from .runinfo import read_run_json

    return _recorded_plan(read_run_json(Path(run_dir)), Path(run_dir)).view.family


def check_gguf_request(run_dir: Path, gguf_type: str, *, adapter_only: bool = False) -> None:
    """Refuse `--gguf` early (before the export runs): unknown type, adapter-only, unsupported architecture."""
    if gguf_type not in GGUF_TYPES:
        raise ExportError(
            f"unknown GGUF type {gguf_type!r}",
            where=Where(field="--gguf-type"),
            hint=f"one of {list(GGUF_TYPES)}",
        )
    if adapter_only:
        raise ExportError(
            "--gguf needs merged weights; an adapter-only export has none", where=Where(field="--gguf")
        )
    gguf_architecture(_run_family(run_dir))


def write_gguf_for_run(run_dir: Path, export_dir: Path, gguf_type: str = "f16") -> GgufReport:
    """`write_gguf` for a run's merged export, with the run's family."""
    return write_gguf(export_dir, _run_family(run_dir), gguf_type)


def write_gguf(export_dir: Path, family: Family, gguf_type: str = "f16") -> GgufReport:
    """Write `model-<type>.gguf` into ``export_dir`` (a merged export) and verify it; see the module doc."""
    if gguf_type not in GGUF_TYPES:
        raise ExportError(
            f"unknown GGUF type {gguf_type!r}",
            where=Where(field="--gguf-type"),
            hint=f"one of {list(GGUF_TYPES)}",
        )
    arch = gguf_architecture(family)
    export_dir = Path(export_dir)
    if not (export_dir / "config.json").is_file():
        raise ExportError(
            "GGUF export needs a merged export (config.json and weights)",
            where=Where(file=str(export_dir)),
            hint="export without --adapter-only",
        )
    final = export_dir / f"model-{gguf_type}.gguf"
    tmp = export_dir / f".{final.name}.partial-{os.getpid()}"
    try:
        count = _write(export_dir, family, arch, gguf_type, tmp)
        diff, tol = _verify(export_dir, tmp, gguf_type)
        if not diff <= tol:
            raise ExportError(
                f"the GGUF's logits differ from the safetensors export by {diff:.3g} "
                f"(tolerance {tol:.3g} for {gguf_type})",
                hint="the layout for this architecture is wrong; report it with the family id",
            )
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    report = GgufReport(final, gguf_type, arch, diff, tol, count)
    _record(export_dir, report)
    return report


def _record(export_dir: Path, report: GgufReport) -> None:
    """List the GGUF in the export's manifest: it is a file dayzero wrote (a later `--overwrite` may replace it)."""
    from dayzero.atomic import atomic_write_text

    from .artifacts import EXPORT_MANIFEST

    manifest = export_dir / EXPORT_MANIFEST
    if not manifest.is_file():
        return
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = sorted({*data.get("files", []), report.path.name})
    data.setdefault("gguf", {})[report.gguf_type] = report.as_dict()
    atomic_write_text(manifest, json.dumps(data, indent=2) + "\n")


def _config(export_dir: Path) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(export_dir))


def _rope_theta(config: Any) -> float | None:
    theta = getattr(config, "rope_theta", None)
    params = getattr(config, "rope_parameters", None) or {}
    return float(theta if theta is not None else params.get("rope_theta", 10000.0))


def _write(export_dir: Path, family: Family, arch: str, gguf_type: str, out: Path) -> int:
    import gguf
    import numpy as np
    import torch
    from safetensors import safe_open

    facts = engines().gguf.architectures[arch]
    config = _config(export_dir)
    model_arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(model_arch, config.num_hidden_layers)
    writer = gguf.GGUFWriter(str(out), arch)
    heads, kv = (
        config.num_attention_heads,
        getattr(config, "num_key_value_heads", None) or config.num_attention_heads,
    )
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    writer.add_name(export_dir.resolve().name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    if getattr(config, "sliding_window", None):
        writer.add_sliding_window(config.sliding_window)
    if facts.softcapping:
        if getattr(config, "attn_logit_softcapping", None):
            writer.add_attn_logit_softcapping(config.attn_logit_softcapping)
        if getattr(config, "final_logit_softcapping", None):
            writer.add_final_logit_softcapping(config.final_logit_softcapping)
    file_type = {
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "bf16": gguf.LlamaFileType.MOSTLY_BF16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[gguf_type]
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _write_vocab(writer, export_dir, family, config.vocab_size)

    qtype = {
        "f16": gguf.GGMLQuantizationType.F16,
        "bf16": gguf.GGMLQuantizationType.BF16,
        "q8_0": gguf.GGMLQuantizationType.Q8_0,
    }[gguf_type]
    count = 0
    for shard in sorted(export_dir.glob("*.safetensors")):
        with safe_open(str(shard), framework="pt") as f:
            for hf_name in f.keys():  # noqa: SIM118  (safe_open has no __iter__)
                gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
                if gguf_name is None:
                    raise NotSupportedError(
                        f"GGUF export: no {arch} tensor name for `{hf_name}` in gguf's tables",
                        where=Where(file=str(shard)),
                    )
                data = f.get_tensor(hf_name).to(torch.float32)
                if facts.permute_qk and gguf_name.endswith(("attn_q.weight", "attn_k.weight")):
                    data = _permute(data, heads, heads if gguf_name.endswith("attn_q.weight") else kv)
                if facts.norm_offset and hf_name.endswith("norm.weight"):
                    data = data + facts.norm_offset
                array = data.numpy()
                if array.ndim <= 1 or (
                    gguf_type == "q8_0" and array.shape[-1] % gguf.GGML_QUANT_SIZES[qtype][0]
                ):
                    # llama.cpp keeps 1-D tensors (norms, biases) in f32, and rows Q8_0 cannot block in f16
                    tensor_type = (
                        gguf.GGMLQuantizationType.F32 if array.ndim <= 1 else gguf.GGMLQuantizationType.F16
                    )
                else:
                    tensor_type = qtype
                if tensor_type == gguf.GGMLQuantizationType.F32:
                    writer.add_tensor(gguf_name, array.astype(np.float32))
                elif tensor_type == gguf.GGMLQuantizationType.F16:
                    writer.add_tensor(gguf_name, array.astype(np.float16))
                else:
                    # the quantized bytes; the writer derives the logical shape from them (as llama.cpp's converter)
                    writer.add_tensor(
                        gguf_name, gguf.quants.quantize(array, tensor_type), raw_dtype=tensor_type
                    )
                count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count


def _permute(weights: Any, n_head: int, n_head_kv: int) -> Any:
    """llama.cpp's `LlamaModel.permute`: interleaved rotary halves, as GGML's rope expects."""
    if n_head_kv != n_head:
        n_head = n_head_kv
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _write_vocab(writer: Any, export_dir: Path, family: Family, vocab_size: int) -> None:
    """Tokens, merges, token types and special ids from tokenizer.json; the chat template; the stops."""
    import gguf

    data = json.loads((export_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise NotSupportedError(
            f"GGUF export: the tokenizer is a {model.get('type')} model{' with byte fallback' if model.get('byte_fallback') else ''}; "
            "dayzero writes byte-level BPE vocabularies (llama.cpp's `gpt2` model) only",
            where=Where(file=str(export_dir / "tokenizer.json"), field="model.type"),
            hint="convert the merged export with llama.cpp's convert_hf_to_gguf.py",
        )
    vocab: dict[str, int] = dict(model.get("vocab", {}))
    added = {t["content"]: t for t in data.get("added_tokens", [])}
    for content, tok in added.items():
        vocab.setdefault(content, tok["id"])
    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif token in added:
            tokens.append(token)
            types.append(
                gguf.TokenType.CONTROL if added[token].get("special") else gguf.TokenType.USER_DEFINED
            )
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    merges = model.get("merges", [])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    tok_config = json.loads((export_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    facts = family.tokenizer
    ids = {t: vocab[t] for t in [facts.bos, facts.eos, facts.pad, *facts.end_of_turn] if t and t in vocab}
    if facts.bos in ids:
        writer.add_bos_token_id(ids[facts.bos])
    writer.add_add_bos_token(bool(facts.add_bos))
    eot = next((t for t in facts.end_of_turn if t in ids), None)
    # llama.cpp stops at eos and eot; generation stops where training ended the assistant turn
    writer.add_eos_token_id(ids[eot] if eot else ids[facts.eos])
    if eot:
        writer.add_eot_token_id(ids[eot])
    pad = tok_config.get("pad_token") or facts.pad
    if isinstance(pad, str) and pad in vocab:
        writer.add_pad_token_id(vocab[pad])
    template_file = export_dir / "chat_template.jinja"
    template = (
        template_file.read_text(encoding="utf-8")
        if template_file.is_file()
        else tok_config.get("chat_template")
    )
    if isinstance(template, str):
        writer.add_chat_template(template)


def _verify(export_dir: Path, gguf_path: Path, gguf_type: str) -> tuple[float, float]:
    """Largest |logit| difference of the reloaded GGUF from the safetensors export, and the tolerance.

    transformers' GGUF loader maps the tensors back (its reverse name table, q/k un-permuted, norm
    offsets undone, dequantized) into a model of the export's own config: its config reconstruction
    reads fewer keys than the file carries (no `key_length` for Qwen3, no `query_pre_attn_scalar` for
    Gemma), which would test transformers rather than the file. The hyperparameters are checked against
    the config separately (`_check_metadata`).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    from .exporter import probe_batch

    _check_metadata(export_dir, gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(str(export_dir))
    _, batch = probe_batch(tokenizer)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        reference = AutoModelForCausalLM.from_pretrained(str(export_dir), dtype=torch.float32).eval()
        ref = reference(**inputs).logits
        loaded = AutoModelForCausalLM.from_config(
            AutoConfig.from_pretrained(str(export_dir)), dtype=torch.float32
        )
        tensors = load_gguf_checkpoint(str(gguf_path), return_tensors=True, model_to_load=loaded)["tensors"]
        missing, unexpected = loaded.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
        missing = [m for m in missing if not (m == "lm_head.weight" and loaded.config.tie_word_embeddings)]
        if missing or unexpected:
            raise ExportError(
                f"the GGUF does not reload into the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        loaded.tie_weights()
        got = loaded.eval()(**inputs).logits
    mask = batch["attention_mask"].bool()
    diff = float((got[mask] - ref[mask]).abs().max())
    tol = engines().gguf.tolerance[gguf_type] * max(1.0, float(ref[mask].abs().max()))
    return diff, tol


def _check_metadata(export_dir: Path, gguf_path: Path) -> None:
    """The GGUF's hyperparameters are the export config's."""
    import gguf

    config = _config(export_dir)
    reader = gguf.GGUFReader(str(gguf_path))
    arch = _field(reader, "general.architecture")
    heads = config.num_attention_heads
    want = {
        "block_count": config.num_hidden_layers,
        "embedding_length": config.hidden_size,
        "feed_forward_length": config.intermediate_size,
        "attention.head_count": heads,
        "attention.head_count_kv": getattr(config, "num_key_value_heads", None) or heads,
        "attention.key_length": getattr(config, "head_dim", None) or config.hidden_size // heads,
        "context_length": config.max_position_embeddings,
    }
    wrong = {
        k: (_field(reader, f"{arch}.{k}"), v) for k, v in want.items() if _field(reader, f"{arch}.{k}") != v
    }
    if wrong:
        raise ExportError(f"GGUF metadata disagrees with config.json (gguf, config): {wrong}")


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        return None
    value = field.contents()
    return value
