"""Release day: draft a family entry from a model's small files, check it, write YAML and report.

Every fact comes from a source, never from a family id:
- architecture and module names (MoE included: experts are the modules holding 3-D parameters): the real
  transformers class for `config.model_type`, instantiated
  tiny and walked (the layer list, the Linear layers of one layer, embeddings, lm_head);
- LoRA presets: the Linear leaf names found, grouped into attention and MLP;
- special tokens: tokenizer_config.json, plus the special-looking literals of the chat template; the
  tokenizer kind from tokenizer.json when the release has one (else a guess the review must check);
- chat format: the official Jinja probed with marker conversations (`probe.py`); an existing format
  with the same slots is reused, else a new format file is drafted beside the family;
- serving: vLLM architecture = `config.architectures[0]` when a registry family already names it
  for vLLM (the known list is the registry's own data), else null; tool-call and reasoning parsers
  from the template's markers (`parsers.py`, a data table);
- template: when an existing family's format renders the release's template identically over the
  parity battery, that family's template section is reused (`borrowed_template`).
A draft whose release already matches an existing family by config gets a warning (`overlaps`).
The draft is validated by the registry schema together with the bundled registry, conformance runs
on a tiny instance with the release's files as the official source, and both are written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dayzero.atomic import atomic_write_text
from dayzero.errors import ConformanceError, NotSupportedError, Where

from .official import OfficialFiles, _read_json
from .parsers import vllm_parsers
from .probe import ProbedFormat, probe_format
from .tiny_config import peft_refuses

TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 128, "vocab_size": 512, "max_position_embeddings": 2048,
        "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2}
# Conventional leaf names of Linear layers and the role each plays (transformers' naming, not a family's).
ATTENTION_ROLES = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o", "qkv_proj": "qkv",
                   "query_key_value": "qkv", "dense": "o", "out_proj": "o"}
MLP_ROLES = {"gate_proj": "gate", "up_proj": "up", "down_proj": "down", "gate_up_proj": "gate_up",
             "w1": "gate", "w3": "up", "w2": "down", "fc1": "up", "fc2": "down",
             "c_fc": "up", "c_proj": "down", "dense_h_to_4h": "up", "dense_4h_to_h": "down",  # GPT-2 / StarCoder2, GPT-NeoX / Falcon
             "input_linear": "gate_up", "output_linear": "down"}  # Granite MoE's shared MLP


@dataclass
class Day0Result:
    family_path: Path
    format_path: Path | None
    report_path: Path
    report: Any
    family: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def overlaps(registry: Any, files: OfficialFiles) -> list[str]:
    """A warning when the release's own files already match an existing family by config: the draft's match
    rules then overlap that family's, and one of the two needs a `when` that tells them apart."""
    from dayzero.errors import DayzeroError
    from dayzero.registry.matching import _by_config

    docs = {"config": files.config or {}, "tokenizer_config": files.tokenizer_config or {},
            "generation_config": files.generation_config or {}}
    try:
        res = _by_config(registry, docs, source=files.source)
    except DayzeroError:
        return []
    return [f"the release's config already matches family {res.family.id!r}: the draft's match rules overlap it; "
            "tell them apart with `match.when` (bos / eos / vocab_size) or add the release as a checkpoint"]


def walk_architecture(config: dict[str, Any]) -> dict[str, Any]:
    """The `architecture` section, read off a tiny instance of the release's transformers class."""
    import torch
    import transformers
    from transformers import AutoConfig

    model_type, archs = config.get("model_type"), config.get("architectures") or []
    if not model_type or not archs:
        raise ConformanceError("config.json needs `model_type` and `architectures`", where=Where(field="architectures"))
    cls = getattr(transformers, archs[0], None)
    if cls is None:
        raise NotSupportedError(f"transformers {transformers.__version__} has no class {archs[0]!r}",
                                hint="a newer transformers, or trust_remote_code (not drafted by day0)")
    model_type = native_model_type(model_type, cls)
    cls, model_type = causal_lm_class(cls, model_type)
    # The config class's defaults under the release's values: a release whose config.json is not at hand (only
    # its architecture is known) still gets its MLA head sizes and expert counts shrunk.
    full = {**AutoConfig.for_model(model_type).to_dict(), **config, "model_type": model_type}
    tiny = {**tiny_config(full), **{k: v for k, v in _TINY_SSM_KEYS.items() if k in full}}
    model = _tiny_instance(cls, model_type, tiny, full)
    modules = dict(model.named_modules())
    # the config's own count: a few derive it from a per-layer list and ignore `num_hidden_layers`
    n_layers = getattr(model.config, "num_hidden_layers", None) or tiny["num_hidden_layers"]
    tiny["num_hidden_layers"] = n_layers
    layers = next((n for n, m in modules.items() if isinstance(m, torch.nn.ModuleList)
                   and len(m) == n_layers and n), None)
    if layers is None:
        raise NotSupportedError(f"{archs[0]}: no decoder-layer list found")
    moe, dense = _walk_moe(model, layers, tiny["num_hidden_layers"])
    key = hybrid_layer_key(full)
    per_layer = [str(k) for k in (getattr(model.config, key, None) or [])] if key else []
    hybrid = key is not None and len(set(per_layer)) > 1 and len(per_layer) == n_layers
    if hybrid:  # every kind of layer is in the tiny instance: walk each kind's first layer
        assert key is not None
        kinds_at = {k: per_layer.index(k) for k in dict.fromkeys(per_layer)}
        full_kind = next(k for k in kinds_at if _is_full_attention(k))
        prefix = f"{layers}.{kinds_at[full_kind]}."
    else:
        prefix = f"{layers}.{dense[0] if dense else 0}."
    linears = _layer_linears(modules, prefix, moe)
    attention: dict[str, Any] = {}
    mlp: dict[str, Any] = {}
    extra: list[str] = []
    other: list[str] = []  # neither attention nor a known MLP name (SSM mixers, RWKV): LoRA targets all the same
    for rel in linears:
        leaf = rel.rsplit(".", 1)[-1]
        if "attn" in rel or "attention" in rel or (hybrid and leaf in ATTENTION_ROLES):  # Nemotron-H: `mixer.q_proj`
            role = ATTENTION_ROLES.get(leaf)
            if role and role not in attention:
                attention[role] = rel
            else:
                extra.append(rel)
        elif leaf in MLP_ROLES and "expert" not in rel:
            mlp[MLP_ROLES[leaf]] = rel
        else:
            other.append(leaf)
    order = ["q", "k", "v", "qkv", "o", "gate", "up", "gate_up", "down"]
    attention = {k: attention[k] for k in order if k in attention}
    mlp = {k: mlp[k] for k in order if k in mlp}
    if extra:
        attention["extra"] = extra
    if any(k in attention for k in ("q", "k", "v")) and "extra" in attention and not all(
            k in attention for k in ("q", "k", "v")):
        for k in ("q", "k", "v"):
            if k in attention:
                attention["extra"].insert(0, attention.pop(k))
    emb = next(n for n, m in modules.items() if m is model.get_input_embeddings())
    head = next((n for n, m in modules.items() if m is model.get_output_embeddings()), "lm_head")
    att_leaves = [p.rsplit(".", 1)[-1] for k, p in attention.items() if k != "extra"] + \
        [p.rsplit(".", 1)[-1] for p in attention.get("extra", [])]
    mlp_leaves = [p.rsplit(".", 1)[-1] for p in mlp.values()]
    layer_cls = type(model.get_submodule(f"{layers}.0")).__name__  # FSDP2's wrap unit
    section: dict[str, Any] = {
        "class": cls.__name__, "model_type": model_type, "layers": f"{layers}.{{}}",
        **({"decoder_layer": layer_cls} if layer_cls in (model._no_split_modules or []) else {}),
        "attention": attention,
        "embeddings": emb, "lm_head": head,
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", model.config.tie_word_embeddings)),
        # peft's meaning of all-linear: every Linear of the layer (bar MoE experts and router), named or not
        "lora": {"attention": att_leaves, "mlp": mlp_leaves,
                 "all-linear": _unambiguous([x for x in dict.fromkeys(att_leaves + mlp_leaves + other)
                                             if x not in peft_refuses(model_type)],
                                            modules, prefix)},
        "tiny": tiny,
    }
    if hybrid:
        assert key is not None
        kinds, kind_mlp, mixer_leaves = _walk_layer_kinds(modules, layers, kinds_at, full_kind, moe, dense)
        section["layer_kinds"] = {"config_key": key, "kinds": kinds}
        for role, rel in kind_mlp.items():
            mlp.setdefault(role, rel)
        mlp = {k: mlp[k] for k in order if k in mlp}
        for leaf in [*mlp_leaves, *(p.rsplit(".", 1)[-1] for p in mlp.values())]:
            if leaf not in section["lora"]["mlp"]:
                section["lora"]["mlp"].append(leaf)
        known = set(section["lora"]["all-linear"])
        # a leaf that also ends another kind of module's path (Zamba2's `0` / `1`, a decoder layer's index) is
        # written as its last two parts instead, as for the other targets
        mixer_targets = [t for kind, index in kinds_at.items() for t in _unambiguous(
            [rel.rsplit(".", 1)[-1] for rel in kinds[kind].get("mixer", [])], modules, f"{layers}.{index}.")]
        section["lora"]["all-linear"] += [x for x in dict.fromkeys(
            [*section["lora"]["mlp"], *mixer_targets]) if x not in known and x not in peft_refuses(model_type)]
        tiny[key] = per_layer
        refused = [x for x in mixer_leaves if x in peft_refuses(model_type)]  # Mamba's out_proj under peft
        section["lora"]["never"] = list(dict.fromkeys([*section["lora"].get("never", ["lm_head"]), *refused]))
        if moe:
            moe.pop("dense_layers", None)  # the layer kinds place the MoE layers
    if mlp:
        section["mlp"] = mlp
    if moe:
        sparse = next(i for i in range(tiny["num_hidden_layers"]) if i not in dense)
        parent = f"{layers}.{sparse}" + (f".{moe['experts'].rsplit('.', 1)[0]}" if "." in moe["experts"] else "")
        moe = {**moe, "block_class": type(model.get_submodule(parent)).__name__}  # the ZeRO-3 leaf module
        section["moe"] = moe
        experts = moe["experts"]
        section["lora"]["target_parameters"] = [f"{experts}.{name}" for name in moe["fused_parameters"]]
        section["lora"]["never"] = list(dict.fromkeys(
            [*section["lora"].get("never", ["lm_head"]), moe["router"].rsplit(".", 1)[-1]]))
        if moe.get("shared_experts"):  # the shared experts' Linear layers are MLP targets too (qwen2-moe's review)
            shared = f"{layers}.{sparse}.{moe['shared_experts']}."
            for name in sorted(n for n, m in modules.items() if n.startswith(shared) and isinstance(m, _linear_types())):
                if (leaf := name.rsplit(".", 1)[-1]) not in section["lora"]["mlp"]:
                    section["lora"]["mlp"].append(leaf)
                    section["lora"]["all-linear"].append(leaf)
        _keep_what_peft_wraps(model, section["lora"])
    return section


def _is_full_attention(kind: str) -> bool:
    return "attention" in kind and "linear" not in kind


def _layer_linears(modules: dict[str, Any], prefix: str, moe: dict[str, Any] | None) -> list[str]:
    """The Linear layers under one decoder layer (`prefix`), relative to it, bar the MoE experts / router /
    shared experts (described by `moe`, not by attention / mlp)."""
    linears = sorted(n[len(prefix):] for n, m in modules.items()
                     if n.startswith(prefix) and isinstance(m, _linear_types()))
    if moe:
        owned = [moe[k] for k in ("experts", "router", "shared_experts") if moe.get(k)]
        linears = [rel for rel in linears if not any(rel == o or rel.startswith(o + ".") for o in owned)]
    return linears


def _walk_layer_kinds(modules: dict[str, Any], layers: str, kinds_at: dict[str, int], full_kind: str,
                      moe: dict[str, Any] | None, dense: list[int]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """`layer_kinds.kinds` of a hybrid class, read off the first layer of each kind: the full-attention kind
    holds `attention`; a kind with the MLP's Linear names holds `mlp`, one with experts `moe`; every other
    Linear of a kind (Mamba-2's in_proj / out_proj, Gated DeltaNet's projections) is that kind's `mixer`.
    Also the MLP roles found and the mixer leaf names (LoRA targets)."""
    kinds: dict[str, Any] = {}
    mlp: dict[str, str] = {}
    mixer_leaves: list[str] = []
    for kind, index in kinds_at.items():
        rels = _layer_linears(modules, f"{layers}.{index}.", moe)
        parts: list[str] = []
        mixer: list[str] = []
        if kind == full_kind:
            parts.append("attention")
        found_mlp = False
        for rel in rels:
            leaf = rel.rsplit(".", 1)[-1]
            if kind == full_kind and (leaf in ATTENTION_ROLES or "attn" in rel or "attention" in rel):
                continue
            if leaf in MLP_ROLES and "expert" not in rel:
                mlp.setdefault(MLP_ROLES[leaf], rel)
                found_mlp = True
            else:
                mixer.append(rel)
                mixer_leaves.append(leaf)
        if found_mlp:
            parts.append("mlp")
        if moe and index not in dense:
            parts.append("moe")
        kinds[kind] = {"parts": parts, **({"mixer": mixer} if mixer else {})}
    return kinds, mlp, list(dict.fromkeys(mixer_leaves))


def tiny_config(config: dict[str, Any]) -> dict[str, Any]:
    """The tiny instance's config overrides: TINY, the MoE and per-head keys, and the config's own size keys
    (other names, unset sizes, per-layer lists: `tiny_config.tiny_sizes`)."""
    from .tiny_config import tiny_sizes

    tiny = dict(TINY, tie_word_embeddings=bool(config.get("tie_word_embeddings", False)), **_tiny_moe(config),
                **_tiny_heads(config))
    if "max_position_embeddings" not in config:  # no such size (XLNet refuses it being set)
        tiny.pop("max_position_embeddings")
    return {**tiny, **tiny_sizes(str(config.get("model_type")), config, tiny)}


# State-space mixer sizes of hybrid models (Granite 4, Nemotron-H), shrunk to TINY's hidden 64 (expand 2 -> 128).
# Groups of the B/C projections must divide the 4 heads (Nemotron-H's default 8 groups leave 0 heads per group).
_TINY_SSM_KEYS = {"mamba_n_heads": 4, "mamba_d_head": 32, "mamba_d_state": 16, "mamba_num_heads": 4,
                  "mamba_head_dim": 32, "ssm_state_size": 16, "mamba_chunk_size": 16, "n_groups": 1,
                  # Gated DeltaNet (Qwen3.5, Qwen3-Next linear attention): 128-wide heads, 16 / 32 of them by default;
                  # 32 value heads keep in_proj_a / in_proj_b at 32 outputs (bitsandbytes' CPU 4-bit packs by 32)
                  "linear_key_head_dim": 16, "linear_value_head_dim": 16, "linear_num_key_heads": 4,
                  "linear_num_value_heads": 32}
# Names of full-attention layers in `layer_types` lists, tried in this order when the class default names none.
_ATTENTION_KINDS = ("full_attention", "attention")


def hybrid_layer_key(full: dict[str, Any]) -> str | None:
    """`layer_types` / `layers_block_type` when the class mixes other layers in (Mamba, convolutions, linear
    attention, or a list the config fills in later), else None (attention layers only: Gemma's sliding / full)."""
    key = next((k for k in ("layer_types", "layers_block_type") if k in full), None)
    listed = (full.get(key) or []) if key else []
    if key is not None and listed and all("attention" in k and "linear" not in k for k in listed):
        return None
    return key


def _tiny_instance(cls: type, model_type: str, tiny: dict[str, Any], full: dict[str, Any]) -> Any:
    """The tiny model. A hybrid class (a `layer_types` / `layers_block_type` list: Nemotron-H, Qwen3.5, LFM2) is
    built with one layer of every kind its list names (and a full-attention one where the list has none:
    Granite 4's default is Mamba only), so `architecture.layer_kinds` can describe each. A class that refuses
    such a mix is built from attention layers only, recorded in `tiny` (the draft says so)."""
    import torch
    from transformers import AutoConfig

    key = hybrid_layer_key(full)
    if key is not None:  # every kind of layer the class lists, one layer each (plus full attention if none lists it)
        listed = [str(k) for k in dict.fromkeys(full.get(key) or [])]
        extra = [] if any(_is_full_attention(k) for k in listed) else [k for k in _ATTENTION_KINDS if k not in listed]
        for add in [None, *extra] if extra else [None]:
            mix = listed + ([add] if add else [])
            if len(mix) < 2 or not any(_is_full_attention(k) for k in mix):
                continue
            try:
                torch.manual_seed(0)
                model = cls(AutoConfig.for_model(model_type, **{**tiny, key: mix, "num_hidden_layers": len(mix)}))
            except Exception:  # a kind this class refuses: try the next, then attention layers only
                continue
            tiny.update({key: mix, "num_hidden_layers": len(mix)})
            return model
    kinds: list[str | None] = [None]  # first the tiny config as it is: kept when it builds with attention layers
    if key is not None:
        named = [k for k in dict.fromkeys(full.get(key) or []) if "attention" in k and "linear" not in k]
        kinds += list(dict.fromkeys([*named, *_ATTENTION_KINDS]))
    last: Exception | None = None
    for kind in kinds:
        if kind is not None:
            tiny[key] = [kind] * tiny["num_hidden_layers"]
        torch.manual_seed(0)
        try:
            model = cls(AutoConfig.for_model(model_type, **tiny))
        except Exception as exc:  # a layout or kind this class refuses (each config raises its own type)
            if key is None:
                raise
            last = exc
            continue
        if key is None or any(n.rsplit(".", 1)[-1] in ("q_proj", "qkv_proj", "query_key_value")
                              for n, _ in model.named_modules()):
            return model
    raise NotSupportedError(f"{cls.__name__}: no attention-only tiny instance ({key}: tried {kinds}): {last}")


def causal_lm_class(cls: type, model_type: str) -> tuple[type, str]:
    """The text causal LM `AutoModelForCausalLM` loads for a release whose config names an image-text class.

    Qwen3.5 ships only `Qwen3_5ForConditionalGeneration` (model_type `qwen3_5`), yet transformers maps
    `qwen3_5` to `Qwen3_5ForCausalLM` for causal-LM loading (its language model; the vision tower is skipped
    on load). A text family drafts that class and its own config type (`qwen3_5_text`); a class that is already
    a causal LM, or a model type without such a mapping, is kept.
    """
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    text = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(model_type)
    if not text or text == cls.__name__ or cls.__name__ in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values():
        return cls, model_type
    text_cls = getattr(transformers, text, None)
    native = getattr(getattr(text_cls, "config_class", None), "model_type", None)
    if text_cls is None or not native:
        return cls, model_type
    return text_cls, native


def native_model_type(model_type: str, cls: type) -> str:
    """The model_type transformers builds `cls` from, when the release's own is a remote-code name.

    Vendors keep shipping `auto_map` configs after transformers adds the class natively (Hunyuan-A13B says
    `hunyuan` for `HunYuanMoEV1ForCausalLM`, Kimi-K2 `kimi_k2` for `DeepseekV3ForCausalLM`): the tiny instance
    needs the native config, while `match.model_types` keeps the release's name.
    """
    from transformers import CONFIG_MAPPING

    if model_type in CONFIG_MAPPING:
        return model_type
    native = getattr(getattr(cls, "config_class", None), "model_type", None)
    if not native:
        raise NotSupportedError(f"transformers knows no model_type {model_type!r} and {cls.__name__} names no config",
                                hint="a newer transformers, or trust_remote_code (not drafted by day0)")
    return native


def _keep_what_peft_wraps(model: Any, lora: dict[str, Any]) -> None:
    """Drop the LoRA leaf names peft does not honour on this class, and name them `never`.

    peft maps some MoE types' MLP names onto the fused experts (DeepSeek-V3, GLM-4.5: `down_proj` then wraps
    `mlp.experts` and skips the dense and shared MLPs; deepseek-v3's review found it by hand). The preset keeps
    what peft really wraps as Linear layers, measured on the tiny instance.
    """
    import copy

    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer

    names = dict(model.named_modules())
    probe = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, target_modules=list(lora["all-linear"])))
    wrapped = {n.removeprefix("base_model.model.") for n, m in probe.named_modules()
               if isinstance(m, LoraLayer) and not n.endswith(".base_layer")}
    honoured = {n.rsplit(".", 1)[-1] for n in wrapped if isinstance(names.get(n), _linear_types())}
    dropped = [leaf for leaf in lora["all-linear"] if leaf not in honoured]
    if not dropped and all(isinstance(names.get(n), _linear_types()) for n in wrapped):
        return
    for key in ("attention", "mlp", "all-linear"):
        lora[key] = [leaf for leaf in lora[key] if leaf in honoured]
    lora["never"] = list(dict.fromkeys([*lora.get("never", []), *dropped]))


def _linear_types() -> tuple[type, ...]:
    """nn.Linear, and transformers' Conv1D (GPT-2 style, a transposed Linear that peft adapts too)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    return (torch.nn.Linear, Conv1D)


# Per-head sizes of attention variants (partial rotary, MLA's low-rank q/kv), shrunk to fit TINY's 64 / 4 heads.
# A release keeps its own values (e.g. rotary_dim 64) otherwise, and those no longer fit a 16-wide head.
_TINY_HEAD_KEYS = {"head_dim": 16, "rotary_dim": 16, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 16,
                   "kv_lora_rank": 32, "q_lora_rank": 32, "rope_dim": 16, "attention_head_dim": 16}


def _tiny_heads(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in _TINY_HEAD_KEYS.items() if isinstance(config.get(k), int) and config[k] > v}
    if "head_dim" in config and config["head_dim"] is None and isinstance(config.get("attention_head_dim"), int):
        out["head_dim"] = _TINY_HEAD_KEYS["head_dim"]  # Hunyuan: the vendor's `attention_head_dim`, native `head_dim`
    if isinstance(config.get("qk_rope_head_dim"), int):  # MLA: rotary part = head_dim, q/k head = nope + rope
        # MLA has no grouped kv heads: a padded batch needs as many kv heads as query heads (STACK-NOTES)
        out.update(head_dim=8, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=16,
                   num_key_value_heads=TINY["num_attention_heads"])
        if "qk_head_dim" in config:
            out["qk_head_dim"] = 16
    return out


# Config keys of MoE releases, shrunk for the tiny instance. Matched by name pattern, so a new MoE
# model's keys are shrunk too, without naming its family: expert counts -> 4, experts per token -> 2.
def _tiny_moe(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if value is None and "expert" in key and "per_tok" in key:  # DeepSeek-V2's class default is None
            out[key] = 2
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if "expert" in key and ("per_tok" in key or "topk" in key):
            out[key] = min(value, 2)
        elif "shared_expert" in key and "size" not in key:
            out[key] = min(value, 1)
        elif "expert" in key and "size" not in key and value > 4:
            out[key] = 4
        elif key in ("moe_intermediate_size", "shared_expert_intermediate_size", "shared_intermediate_size",
                     "moe_shared_expert_intermediate_size"):  # the last: Nemotron-H
            out[key] = 32
        elif key in ("first_k_dense_replace", "num_dense_layers"):  # DeepSeek, LFM2-MoE: dense layers first
            out[key] = min(value, 1)
        elif key == "decoder_sparse_step" or key in ("n_group", "topk_group"):
            out[key] = 1
    if "mlp_only_layers" in config:
        out["mlp_only_layers"] = []
    return out


def _walk_moe(model: Any, layers: str, n_layers: int) -> tuple[dict[str, Any] | None, list[int]]:
    """The `moe` section (experts container, router, fused 3-D parameters, shared experts) and the
    indices of dense layers, found on the instance: experts hold parameters with 3 dimensions."""
    import torch

    convs = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)  # 3-D weights too, but no experts
    moe: dict[str, Any] | None = None
    dense: list[int] = []
    for index in range(n_layers):
        layer = model.get_submodule(f"{layers}.{index}")
        found = None
        for rel, mod in layer.named_modules():
            if isinstance(mod, convs):
                continue
            # one row per expert: a (1, 1, hidden) mixing vector (RWKV's time_mix) is no expert bank
            fused = [n for n, p in mod.named_parameters(recurse=False) if p.dim() == 3 and p.shape[0] > 1]
            if fused and rel:
                found = (rel, mod, fused)
                break
        if found is None:
            dense.append(index)
            continue
        rel, experts, fused = found
        parent_rel = rel.rsplit(".", 1)[0] if "." in rel else ""
        parent = layer.get_submodule(parent_rel) if parent_rel else layer
        n_experts = next(p.shape[0] for n, p in experts.named_parameters(recurse=False) if p.dim() == 3)
        if not _declares_experts(model.config, n_experts):  # block-diagonal weights (RG-LRU heads), no experts
            dense.append(index)
            continue
        # the router: beside the experts or nested in a gate module (`router.layer`, `gate.router_mlp.out_proj`);
        # one row per expert, or one more for a "no expert" choice; the nearest exact match wins
        routers = sorted((sub.weight.shape[0] - n_experts, name.count("."), name)
                         for name, sub in parent.named_modules()
                         if name and name.count(".") <= 2 and sub is not experts
                         and not name.startswith(rel.rsplit(".", 1)[-1] + ".")
                         and isinstance(getattr(sub, "weight", None), torch.Tensor)
                         and sub.weight.dim() == 2 and sub.weight.shape[0] in (n_experts, n_experts + 1))
        router = routers[0][2] if routers else None
        shared = next((name for name, _ in parent.named_children() if "shared" in name), None)
        if router is None:
            raise NotSupportedError(f"MoE layer {index}: no router (a {n_experts}-row weight) beside {rel}")
        prefix = f"{parent_rel}." if parent_rel else ""
        moe = {"experts": rel, "router": prefix + router, "fused_parameters": fused}
        if shared:
            moe["shared_experts"] = prefix + shared
    if moe is not None and dense:
        moe["dense_layers"] = dense
    return moe, dense


def _unambiguous(names: list[str], modules: dict[str, Any], prefix: str) -> list[str]:
    """LoRA target names that match Linear layers only: peft matches a name against every module's path, so a
    name that also ends the path of another kind of module (a Sequential's "0" is also layer `h.0`, Reformer's
    `dense` wrapper) becomes the last two parts of each of the layer's Linear paths instead."""
    linear = _linear_types()
    out: list[str] = []
    for name in names:
        clash = any(not isinstance(m, linear) and (n == name or n.endswith("." + name)) for n, m in modules.items())
        if not clash:
            out.append(name)
            continue
        longer = [".".join(n.rsplit(".", 2)[-2:]) for n, m in modules.items()
                  if n.startswith(prefix) and isinstance(m, linear) and n.endswith("." + name)]
        out.extend(x for x in longer if x not in out)
    return out


def _declares_experts(config: Any, n_experts: int) -> bool:
    """Whether the config counts this many experts (`num_experts`, `n_routed_experts`, `num_local_experts`...)."""
    def counts(data: dict[str, Any]) -> bool:  # sub-configs too (DBRX keeps its MoE sizes in `ffn_config`)
        return any(counts(v) if isinstance(v, dict) else "expert" in str(k) and isinstance(v, int) and v == n_experts
                   for k, v in data.items())

    return counts(config.to_dict() if hasattr(config, "to_dict") else {})


def _tokenizer_section(files: OfficialFiles, probed: ProbedFormat, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The `tokenizer` section, and whether its kind was guessed (no tokenizer.json: the changelog says so)."""
    bos, eos = files.token("bos_token"), files.token("eos_token")
    if eos is None:
        raise ConformanceError("tokenizer_config.json names no eos_token", where=Where(field="eos_token"))
    unk = files.token("unk_token")
    if unk is not None and unk in (bos, eos):  # an alias (Granite, Phi-4-mini, MPT): byte-level BPE has no unk token
        unk = None
    named = {bos, eos, files.token("pad_token"), unk}
    specials = [t for t in [*files.added_tokens(), *probed.specials] if t not in named]
    end_of_turn = [probed.end_of_turn] if probed.end_of_turn else [eos]
    add_bos = bool((files.tokenizer_config or {}).get("add_bos_token", False)) and bos is not None
    from .tokenizer_kind import tokenizer_kind

    kind, guessed = tokenizer_kind(Path(files.source), files.tokenizer_config, config.get("vocab_size"))
    return {"kind": kind, "vocab_size": config.get("vocab_size"), "bos": bos, "eos": eos,
            "pad": files.token("pad_token"), "unk": unk, "end_of_turn": end_of_turn,
            "special": list(dict.fromkeys(t for t in specials if t not in end_of_turn)), "add_bos": add_bos}, guessed


def tiny_token_ids(tokenizer: dict[str, Any]) -> dict[str, int | None]:
    """bos / eos / pad ids of the tiny tokenizer `sdk/tiny.py` builds for this tokenizer section.

    The tiny tokenizer gives the family's special tokens the first ids, in `Tokenizer.all_special()` order,
    and pads with eos where the family has no pad; the tiny config must carry those ids (a fixed 0/1/2 is
    wrong whenever bos is absent or aliases eos, as in Qwen, Granite or MPT).
    """
    from dayzero.registry.schema.tokenizer import Tokenizer

    facts = Tokenizer.model_validate(tokenizer)
    order = {tok: i for i, tok in enumerate(facts.all_special())}
    return {"bos_token_id": order.get(facts.bos) if facts.bos else None, "eos_token_id": order[facts.eos],
            "pad_token_id": order[facts.pad or facts.eos]}


def _generation_eos(files: OfficialFiles, tokenizer: dict[str, Any]) -> list[str]:
    by_id = {v: k for k, v in files.added_tokens().items()}
    cfg_eos = (files.config or {}).get("eos_token_id")
    if isinstance(cfg_eos, int):
        by_id.setdefault(cfg_eos, tokenizer["eos"])
    gen = (files.generation_config or {}).get("eos_token_id")
    ids = gen if isinstance(gen, list) else [gen] if gen is not None else []
    names = [by_id[i] for i in ids if i in by_id] or [tokenizer["eos"]]
    return list(dict.fromkeys([*names, *tokenizer["end_of_turn"]]))


_OPTIONAL_SLOTS = ("prefix", "final_eos", "final_tail", "system_preamble", "system_always", "end_of_turn_in_slot", "date_format",
                   "fixed_date")


def _format_id(registry: Any, probed: ProbedFormat, family_id: str) -> tuple[str, dict[str, Any] | None]:
    """An existing format with the probed slots, or a new one named after the family."""
    from dayzero.registry.schema import ChatFormat

    slots = probed.slots()
    # slots the probe writes only when the template has them: an existing format must not have them either
    # (GLM-Edge's template has GLM-4's turns without the `[gMASK]<sop>` prefix of format glm4)
    optional = {k: ChatFormat.model_fields[k].default for k in _OPTIONAL_SLOTS}
    for fid, fmt in sorted(registry.formats.items()):
        data = fmt.model_dump(mode="json")
        if (all(data.get(k) == v for k, v in slots.items()) and data.get("system") == slots.get("system")
                and all(data.get(k) == slots.get(k, default) for k, default in optional.items())):
            return fid, None
    fmt_id = family_id  # a new format is named after the family, never after a format that exists (DeepSeek-R1's)
    n = 2
    while fmt_id in registry.formats:
        fmt_id, n = f"{family_id}-{n}", n + 1
    return fmt_id, {"id": fmt_id, "description": f"drafted by dayzero day0 from {family_id}'s template", **slots}


def borrowed_template(registry: Any, source: str, bos: str, eos: str) -> tuple[str, dict[str, Any]] | None:
    """A family whose chat template renders exactly like `source`, and its template section.

    Releases often reuse a known template byte for byte (R1 distills of Qwen and Llama, Llama 3 fine-tunes);
    the probe alone would draft a new format from slots, losing the reviewed tool dialect, reasoning and
    deviations. One conversation screens the families; the full parity battery confirms the candidate.
    """
    from dayzero.registry.consistency import template_agrees
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate
    from dayzero.sdk.templates.parity import check

    docs = {"tokenizer_config": {"bos_token": bos, "eos_token": eos}}
    for fid, fam in sorted(registry.families.items()):
        if fam.tokenizer.eos != eos or template_agrees(fam, docs, source) is not True:
            continue
        results = check(ChatTemplate.for_family(fam, date=TEST_DATE, registry=registry), source)
        if all(r.ok for r in results):
            section = fam.template.model_dump(mode="json", by_alias=True, exclude_none=True,
                                              exclude={"official", "capabilities", "tool_dialect"})
            return fid, section
    return None


def _remote_code_hint(reg: Any, cfg: dict[str, Any], exc: NotSupportedError) -> NotSupportedError:
    """day0 drafts only transformers classes; where a hand-written remote-code family claims the release, say which."""
    archs, model_type = set(cfg.get("architectures") or []), cfg.get("model_type")
    claim = sorted(f.id for f in reg.families.values() if f.architecture.remote_code is not None
                   and (archs & set(f.match.architectures) or model_type in f.match.model_types))
    if not claim:
        return exc
    return NotSupportedError(f"{exc.message}; the registry covers this class as remote-code famil"
                             f"{'y' if len(claim) == 1 else 'ies'} {', '.join(claim)}",
                             where=exc.where, hint="use that family (`model.trust_remote_code: true` in the recipe)")


def draft(config: Path, tokenizer_config: Path, family_id: str, generation_config: Path | None = None,
          registry: Any = None) -> tuple[dict[str, Any], dict[str, Any] | None, OfficialFiles]:
    """The family entry (and a new format, if needed) as plain data, plus the release files read."""
    from dayzero import registry as registry_mod

    reg = registry or registry_mod.default()
    cfg, tcfg = _read_json(config), _read_json(tokenizer_config)
    if cfg is None or tcfg is None:
        raise ConformanceError("config.json and tokenizer_config.json must both exist",
                               where=Where(file=str(config if cfg is None else tokenizer_config)))
    jinja = tokenizer_config.parent / "chat_template.jinja"
    files = OfficialFiles(source=str(tokenizer_config.parent), config=cfg, tokenizer_config=tcfg,
                          generation_config=_read_json(generation_config) if generation_config else None,
                          chat_template_text=jinja.read_text(encoding="utf-8") if jinja.is_file() else None)
    if not files.chat_template:
        raise ConformanceError("no chat template in tokenizer_config.json or chat_template.jinja",
                               where=Where(file=str(tokenizer_config), field="chat_template"))
    probed = probe_format(files.chat_template, bos_token=files.token("bos_token") or "",
                          eos_token=files.token("eos_token") or "")
    try:
        arch = walk_architecture(cfg)
    except NotSupportedError as exc:
        raise _remote_code_hint(reg, cfg, exc) from None
    tok, kind_guessed = _tokenizer_section(files, probed, cfg)
    arch["tiny"].update(tiny_token_ids(tok))
    borrowed = borrowed_template(reg, files.chat_template, files.token("bos_token") or "", tok["eos"])
    if borrowed is not None:
        fmt_id, new_format = borrowed[1]["format"], None
    else:
        fmt_id, new_format = _format_id(reg, probed, family_id)
        _require_end_of_turn(new_format, files)
    arch_name = cfg["architectures"][0]
    known_vllm = {f.serving.vllm_architecture for f in reg.families.values()}
    packed = {}
    att, mlp = arch["attention"], arch.get("mlp", {})
    if all(k in att for k in ("q", "k", "v")):
        packed["qkv_proj"] = [att[k].rsplit(".", 1)[-1] for k in ("q", "k", "v")]
    if "gate" in mlp and "up" in mlp:
        packed["gate_up_proj"] = [mlp[k].rsplit(".", 1)[-1] for k in ("gate", "up")]
    # the release's model_type, and transformers' own when the release names a remote-code one (Kimi-K2, Hunyuan)
    # the release's class, and the text causal LM drafted for it when that differs (Qwen3.5: an export of the
    # causal LM names `Qwen3_5ForCausalLM` and must resolve to the same family)
    match: dict[str, Any] = {"architectures": list(dict.fromkeys([arch_name, arch["class"]])),
                             "model_types": list(dict.fromkeys([cfg["model_type"], arch["model_type"]]))}
    when = discriminator(reg, cfg, tok, files)
    if when:
        match["when"] = when
    template: dict[str, Any] = {"format": fmt_id}
    if borrowed is not None:  # the whole reviewed section of the family whose template renders identically
        template = dict(borrowed[1])
    if probed.default_system and borrowed is None:
        template["default_system"] = probed.default_system
    if probed.reasoning.get("mode", "none") != "none" and borrowed is None:
        template["reasoning"] = probed.reasoning
    from transformers import AutoConfig

    hybrid = hybrid_layer_key({**AutoConfig.for_model(arch["model_type"]).to_dict(), **cfg})
    kinds = arch["tiny"].get(hybrid) if hybrid else None
    if not (isinstance(kinds, list) and kinds and all("attention" in k and "linear" not in k for k in kinds)):
        hybrid = None  # the tiny instance keeps the class's own mix of layers: nothing to say
    family = {
        "id": family_id, "name": family_id, "revision": 1, "status": "experimental",
        "changelog": [f"1: drafted by dayzero day0 from {config.name} and {tokenizer_config.name}"
                      " (tools layout, checkpoints and quantization not drafted)"
                      + (f"; template section of family {borrowed[0]}, whose format renders the release's"
                         " template identically over the parity battery" if borrowed else "")
                      + (f"; tiny instance of attention layers only ({hybrid}: {arch['tiny'][hybrid][0]}): the"
                         " release's other layer kinds are not exercised and not LoRA targets" if hybrid else "")
                      + ("; tokenizer.kind guessed from the vocabulary size (the release has no tokenizer.json)"
                         if kind_guessed else "")],
        "verified_against": [
            {"kind": "hub", "ref": f"{config.parent.name} (release files: {config.name}, {tokenizer_config.name})",
             "facts": ["tokenizer", "template", "serving.generation_eos"]},
            {"kind": "library", "ref": f"transformers=={_transformers_version()} {arch['class']}", "facts": ["architecture"]},
        ],
        "match": match, "tokenizer": tok, "template": template, "architecture": arch,
        "serving": {"vllm_architecture": arch_name if arch_name in known_vllm else None,
                    "lora": {"packed_modules": packed}, "generation_eos": _generation_eos(files, tok),
                    **{k: v for k, v in vllm_parsers(files.chat_template).items() if v}},
    }
    return family, new_format, files


def _require_end_of_turn(new_format: dict[str, Any] | None, files: OfficialFiles) -> None:
    """Refuse, naming the cause, a template that ends an answer on no token at all (SOLAR-Instruct's
    `'### Assistant:\n' + content`, Granite-Code's `'Answer:\n' + content + '\n\n'`): trained on it, a model
    never learns to stop, and a chat format cannot hold it (the registry would refuse the draft's format)."""
    if new_format is None or new_format.get("end_of_turn_in_slot") is False:
        return
    slot, eot = new_format.get("assistant") or "", new_format.get("end_of_turn") or ""
    after = slot.split("{content}", 1)[-1]
    if eot and eot not in after:
        raise NotSupportedError(
            f"the chat template writes no end of turn after an answer (after the content: {after!r}; "
            f"eos {eot!r} is never written), so a model trained on it never learns to stop",
            where=Where(file=files.source, field="chat_template"),
            hint="no family can be drafted from this template; list the release with the reason",
        )


def discriminator(
    registry: Any, config: dict[str, Any], tokenizer: dict[str, Any], files: OfficialFiles | None = None
) -> dict[str, Any]:
    """`match.when` for a release whose class other families claim too; empty when none does.

    A remote-code model_type the class's families do not list (Kimi-K2's `kimi_k2` on DeepseekV3ForCausalLM)
    tells it apart by itself. Otherwise bos and eos (the last round's review added both by hand to every such
    draft), and the vocabulary size only when a family sharing the class and the tokens is told apart by
    its vocabulary (R1-Distill-Llama, 128256: DeepSeek-LLM has its bos and eos).

    With the release's `files`, two more rules the reviews applied by hand (SOLAR, TinyLlama, Granite-Code,
    H2O-Danube2, GLM-Edge): a family sharing the class whose own `when` holds for the release too (SmolLM2's
    vocabulary 49152 for Granite-Code) has its conditions copied, so the draft refines it instead of tying with
    it; and where a family sharing the class still has the same bos, eos (and vocabulary), the tokens tell
    nothing apart (Llama 2 and SOLAR both end on `</s>`), so the release's own chat template is the condition,
    byte for byte, as for QwQ and Zephyr.
    """
    from dayzero.registry.matching import _lookup

    arch, model_type = config["architectures"][0], config.get("model_type")
    sharing = [f for f in registry.families.values() if arch in f.match.architectures]
    if not sharing:
        return {}
    if model_type and all(model_type not in f.match.model_types for f in sharing):
        return {"config.model_type": model_type}
    when: dict[str, Any] = {"tokenizer_config.eos_token": tokenizer["eos"]}
    if tokenizer["bos"]:
        when = {"tokenizer_config.bos_token": tokenizer["bos"], **when}
    same_tokens = [f for f in sharing if f.tokenizer.bos == tokenizer["bos"] and f.tokenizer.eos == tokenizer["eos"]]
    by_vocab = any("config.vocab_size" in f.match.when for f in same_tokens)
    vocab = config.get("vocab_size")
    if by_vocab and isinstance(vocab, int):
        # only then: sizes of one family often differ in vocabulary (R1-Distill-Qwen 1.5B 151936, 32B 152064)
        when["config.vocab_size"] = vocab
    if files is None:
        return when
    docs = {"config": config, "tokenizer_config": files.tokenizer_config or {}}
    for f in sharing:  # another family's `when` that holds here too: refine it rather than tie with it
        if f.match.when and all(_lookup(docs, k) == v for k, v in f.match.when.items()):
            when.update({k: v for k, v in f.match.when.items() if k not in when})
    template = (files.tokenizer_config or {}).get("chat_template")  # a string: what `when` can compare
    if "tokenizer_config.chat_template" not in when and isinstance(template, str) and any(
        "config.vocab_size" not in when or f.tokenizer.vocab_size in (None, vocab) for f in same_tokens
    ):
        when["tokenizer_config.chat_template"] = template
    return when


def open_final_deviations(registry: Any, family_id: str, source: str) -> list[dict[str, str]]:
    """`differs` deviations for the battery cases where the official template leaves the conversation's final
    answer open and nothing else differs: the draft renders those cases exactly as the official one, plus the
    end-of-turn after the last answer.

    Apertus writes `<|assistant_end|>` only when a next user turn opens, so the last answer of a training
    conversation never ends. The drafted format closes every answer (the end-of-turn is the token generation stops
    on: a model trained without it after its last answer does not learn to stop); each case it changes is recorded,
    so parity still holds the rest of the render to the official template byte for byte.
    """
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate
    from dayzero.sdk.templates.battery import case
    from dayzero.sdk.templates.parity import check, render_three

    tpl = ChatTemplate.for_family(registry.families[family_id], date=TEST_DATE, registry=registry)
    eot = tpl.end_of_turn
    if not eot:
        return []
    official = ChatTemplate.from_official(source, tpl.family_template, tpl.bos_token, tpl.eos_token,
                                          end_of_turn=eot, date=tpl.date)
    note = (f"the official template leaves the final answer open ({eot} is written only when a next turn follows); "
            "dayzero closes it, so that training teaches the model to stop")
    out = []
    for result in check(tpl, source):
        if result.status != "mismatch":
            continue
        (ours, _), (generated, _), (theirs, _) = render_three(tpl, official, case(result.case))
        if ours is not None and ours == generated and theirs is not None and ours == theirs + eot:
            out.append({"case": result.case, "behaviour": "differs", "note": note})
    return out


def _probe_capabilities(reg: Any, family_id: str) -> dict[str, Any] | None:
    """The template helper's capabilities probe on the drafted structured template, if it is installed."""
    try:
        from dayzero.sdk.templates import ChatTemplate
        from dayzero.sdk.templates.capabilities import probe
    except ImportError:
        return None
    caps = probe(ChatTemplate.for_family(reg.families[family_id], registry=reg))
    return caps.model_dump(mode="json")


def _transformers_version() -> str:
    import transformers

    return transformers.__version__


def _dump(data: dict[str, Any], header: str) -> str:
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def _is_day0_draft(path: Path) -> bool:
    """True when ``path`` starts with the header day0 writes on every draft (so it may be replaced)."""
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.readline().startswith("# Drafted by `dayzero day0`")
    except (OSError, UnicodeDecodeError):
        return False


def draft_and_check(*, config: Path, tokenizer_config: Path, family_id: str, out_dir: Path,
                    generation_config: Path | None = None, report_dir: Path | None = None,
                    official: str | None = None, checkpoints: list[dict[str, Any]] | None = None) -> Day0Result:
    """`draft`, validate with the bundled registry, run conformance, write YAML (+ format) and report.

    `official` names the release's files under shared/reference (`template.official`, recorded as the
    evidence for tokens and template instead of the local folder); `checkpoints` are the release's hub ids.
    Both were typed by hand in every review of the last round.
    """
    from dayzero import registry as registry_mod
    from dayzero.registry import store

    from .report import write
    from .runner import run_family

    base = registry_mod.default()
    if family_id in base.families:
        raise ConformanceError(f"family {family_id!r} already exists in the registry", where=Where(field="id"))
    family, new_format, files = draft(config, tokenizer_config, family_id, generation_config, registry=base)
    if official:
        family["template"] = {"official": official, **family["template"]}
        family["verified_against"][0] = {"kind": "reference", "ref": official,
                                         "facts": family["verified_against"][0]["facts"]}
    if checkpoints:
        family["checkpoints"] = checkpoints
    warnings = overlaps(base, files)
    header = f"# Drafted by `dayzero day0` from {config.parent.name}; review every fact before promoting.\n"
    family_text = _dump(family, header)
    format_text = _dump(new_format, header) if new_format else None
    with tempfile.TemporaryDirectory(prefix="dayzero-day0-") as tmp:
        root = Path(tmp) / "families"
        shutil.copytree(base.root, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        (root / f"{family_id}.yaml").write_text(family_text, encoding="utf-8")
        if format_text:
            (root / "formats" / f"{family_id}.yaml").write_text(format_text, encoding="utf-8")
        reg = store.load(root)  # schema + cross-file checks (claims, hub ids, format references)
        deviations = open_final_deviations(reg, family_id, files.chat_template or "") if new_format else []
        if deviations:  # recorded, as a review would: the drafted format closes every answer
            family["template"]["deviations"] = deviations
            family["changelog"][0] += ("; deviations drafted: the official template leaves the final answer open "
                                       f"({', '.join(d['case'] for d in deviations)})")
            (root / f"{family_id}.yaml").write_text(_dump(family, header), encoding="utf-8")
            reg = store.load(root)
        caps = _probe_capabilities(reg, family_id)
        if caps is not None:  # capabilities are probed, never typed: record what the drafted template does
            family["template"]["capabilities"] = caps
            family_text = _dump(family, header)
            (root / f"{family_id}.yaml").write_text(family_text, encoding="utf-8")
            reg = store.load(root)
        report = run_family(family_id, registry=reg, official=files)
    out_dir = Path(out_dir)
    family_path = out_dir / f"{family_id}.yaml"
    format_path = out_dir / "formats" / f"{family_id}.yaml" if format_text else None
    for path in (family_path, format_path):  # replace only an earlier day0 draft, never someone's own file
        if path is not None and path.exists() and not _is_day0_draft(path):
            raise ConformanceError(
                "exists and is not a `dayzero day0` draft; refusing to overwrite it",
                where=Where(file=str(path)), hint="pass another --out folder or move the file",
            )
    atomic_write_text(family_path, family_text)
    if format_path is not None and format_text:
        atomic_write_text(format_path, format_text)
    # Next to the draft unless told otherwise: a draft's report never lands in the installed package.
    report_path, _ = write(report, Path(report_dir) if report_dir else out_dir / "reports")
    return Day0Result(family_path=family_path, format_path=format_path, report_path=report_path, report=report,
                      family=json.loads(json.dumps(family)), warnings=warnings)
