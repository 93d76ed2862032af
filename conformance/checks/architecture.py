"""Architecture: a tiny random instance of the real transformers class builds, and the entry's
module paths, LoRA presets and tied-embedding fact hold on it (and on the official config.json)."""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..result import NotApplicable, Outcome
from .base import check


@check("architecture.tiny-builds", "a tiny random instance of the declared transformers class builds")
def tiny_builds(ctx: Context) -> Outcome:
    model = ctx.tiny_model()
    arch = ctx.family.architecture
    cls, mtype = type(model).__name__, model.config.model_type
    problems = []
    if cls != arch.model_class:
        problems.append(f"class is {cls}, entry says {arch.model_class}")
    if mtype != arch.model_type:
        problems.append(f"model_type is {mtype}, entry says {arch.model_type}")
    params = sum(p.numel() for p in model.parameters())
    return Outcome(not problems, "; ".join(problems) or f"{cls} builds ({params} parameters)",
                   {"class": cls, "model_type": mtype, "parameters": params,
                    "layers": model.config.get_text_config().num_hidden_layers,
                    "hidden_size": model.config.get_text_config().hidden_size})  # a VLM's are its language model's


@check("architecture.modules", "every module path exists and every LoRA preset name hits nn.Linear modules")
def modules(ctx: Context) -> Outcome:
    from dayzero.sdk.tiny import check_modules
    report = check_modules(ctx.family, ctx.tiny_model())
    problems = [f"missing {p}" for p in report.missing] + [f"hits nothing: {u}" for u in report.unmatched()]
    counts = {preset: {name: len(found) for name, found in names.items()} for preset, names in report.hits.items()}
    evidence = {"missing": report.missing, "unmatched": report.unmatched(), "lora_hits": counts,
                "target_parameter_hits": {k: len(v) for k, v in report.parameter_hits.items()}}
    if report.kinds:  # a hybrid entry: which layers of the tiny instance are of which kind
        evidence["layer_kinds"] = report.kinds
    done = "all paths exist; every LoRA target hits a Linear"
    if report.kinds:
        done += f" (layer kinds {', '.join(f'{k}: {v}' for k, v in report.kinds.items())})"
    return Outcome(report.ok, "; ".join(problems) or done, evidence)


@check("architecture.tied-embeddings", "lm_head shares the embedding matrix exactly when the entry says so")
def tied(ctx: Context) -> Outcome:
    model = ctx.tiny_model()
    arch = ctx.family.architecture
    emb = model.get_submodule(arch.embeddings).weight
    head = model.get_submodule(arch.lm_head).weight
    tied_now = emb.data_ptr() == head.data_ptr()
    evidence = {"declared": arch.tie_word_embeddings, "tiny_instance": tied_now}
    problems = []
    if tied_now != arch.tie_word_embeddings:
        problems.append(f"tiny instance tied={tied_now}, entry says {arch.tie_word_embeddings}")
    files = ctx.official if ctx.official is not None else None
    if files is not None and files.config is not None and "tie_word_embeddings" in files.config:
        official = bool(files.config["tie_word_embeddings"])
        evidence["official_config"] = official
        ckpt_override = None
        for c in ctx.family.checkpoints:
            if c.overrides.tie_word_embeddings is not None and c.hf.lower() in files.source.lower():
                ckpt_override = c.overrides.tie_word_embeddings
        if official != (arch.tie_word_embeddings if ckpt_override is None else ckpt_override):
            problems.append(f"official config.json says tie_word_embeddings={official}")
    return Outcome(not problems, "; ".join(problems) or f"tied={tied_now} as declared", evidence)


@check("architecture.official-config", "the official config.json names the entry's class, model type and vocabulary")
def official_config(ctx: Context) -> Outcome:
    files = ctx.official_files()
    if files.config is None:
        raise NotApplicable(f"no config.json in {files.source}")
    fam = ctx.family
    cfg = files.config
    problems = []
    archs = cfg.get("architectures") or []
    if not archs or archs[0] not in fam.match.architectures:
        problems.append(f"architectures {archs} not among match.architectures {fam.match.architectures}")
    # A vendor's remote-code model_type (Kimi-K2's `kimi_k2`) agrees when the entry claims it by `match`
    if cfg.get("model_type") != fam.architecture.model_type and cfg.get("model_type") not in fam.match.model_types:
        problems.append(f"model_type {cfg.get('model_type')!r}, entry says {fam.architecture.model_type!r}")
    if fam.tokenizer.vocab_size is not None and cfg.get("vocab_size") != fam.tokenizer.vocab_size:
        problems.append(f"vocab_size {cfg.get('vocab_size')}, entry says {fam.tokenizer.vocab_size}")
    evidence = {"architectures": archs, "model_type": cfg.get("model_type"), "vocab_size": cfg.get("vocab_size")}
    lk = fam.architecture.layer_kinds
    if lk is not None:  # a hybrid release: every layer kind it lists must be one the entry describes
        listed = _layer_kinds_of(fam.architecture.model_type, cfg, lk)
        unknown = sorted(set(listed) - set(lk.kinds))
        evidence["layer_kinds"] = sorted(set(listed))
        if unknown:
            problems.append(f"config.json {lk.config_key} lists kinds {unknown} that architecture.layer_kinds lacks")
    return Outcome(not problems, "; ".join(problems) or "config.json agrees with the entry", evidence)


def _layer_kinds_of(model_type: str, cfg: dict[str, Any], lk: Any) -> list[str]:
    """The per-layer kinds transformers reads from a release's config.json: its config class turns legacy
    spellings into the current ones (Granite 4's `mamba` -> `linear_attention`, Nemotron-H's
    `hybrid_override_pattern` -> `layers_block_type`). The raw list where the class refuses the file."""
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    try:
        from transformers import AutoConfig

        return lk.of(AutoConfig.for_model(model_type, **{k: v for k, v in text.items() if k != "model_type"}))
    except Exception:  # a config the class refuses: compare what the file says
        return lk.of(text)


@check("architecture.skip-modules", "every `quantization.skip_modules` name is a module of the tiny instance")
def skip_modules(ctx: Context) -> Outcome:
    names = ctx.family.quantization.skip_modules
    if not names:
        raise NotApplicable("no quantization.skip_modules")
    modules = {n for n, _ in ctx.tiny_model().named_modules()}
    hits = {name: sorted(m for m in modules if m == name or m.endswith("." + name)) for name in names}
    missing = [n for n, found in hits.items() if not found]
    return Outcome(not missing, f"no module named {missing}" if missing else f"{len(names)} skip modules exist",
                   {"hits": {n: len(found) for n, found in hits.items()}})


@check("architecture.remote-code", "a remote-code layout is well formed: every LoRA name is a module it names, the "
       "auto_map agrees with the class and the release's config.json, the vendor's file is cited")
def remote_code(ctx: Context) -> Outcome:
    """The one architecture check a remote-code family runs: nothing walks the vendor's class, so the data must at
    least agree with itself, with the release's config.json (`--model`) and with its cited source."""
    fam = ctx.family
    arch, rc = fam.architecture, fam.architecture.remote_code
    if rc is None:
        raise NotApplicable("the class is transformers' own (architecture.tiny-builds walks it)")
    problems: list[str] = []
    leaves = {p.rsplit(".", 1)[-1] for p in arch.layer_module_paths()}
    leaves.add(arch.lm_head.rsplit(".", 1)[-1])
    for preset, names in (("attention", arch.lora.attention), ("mlp", arch.lora.mlp), ("all-linear", arch.lora.all_linear)):
        stray = [n for n in names if n not in leaves]
        if stray:
            problems.append(f"lora.{preset} {stray} name no module of the entry's layout {sorted(leaves)}")
    if any(n in arch.lora.all_linear for n in arch.lora.never):
        problems.append(f"lora.never {arch.lora.never} overlaps all-linear")
    named = rc.causal_lm().rsplit(".", 1)
    if named[1] != arch.model_class:
        problems.append(f"auto_map loads {named[1]}, entry says class {arch.model_class}")
    if f"{named[0]}.py" != rc.modeling_file:
        problems.append(f"auto_map loads from {named[0]}.py, entry says modeling_file {rc.modeling_file}")
    if arch.model_type not in fam.match.model_types:
        problems.append(f"model_type {arch.model_type!r} not among match.model_types {fam.match.model_types}")
    cited = [e.ref for e in fam.verified_against
             if e.kind == "vendor-code" and (not e.facts or "architecture" in e.facts)]
    if not cited:
        problems.append("no vendor-code evidence covers `architecture` (owner/repo@commit:path of the vendor's code)")
    # The modeling file itself, or other vendor code that spells the layout out (LG's EXAONE converter): say which.
    own_file = any(ref.rsplit("/", 1)[-1].rsplit(":", 1)[-1] == rc.modeling_file for ref in cited)
    evidence: dict[str, object] = {"class": arch.model_class, "auto_map": dict(rc.auto_map), "vendor_code": cited,
                                   "modeling_file_cited": own_file}
    files = ctx.official
    if files is not None and files.config is not None:  # --model: the release's own auto_map must load the same class
        shipped = {k: v.split("--", 1)[-1] for k, v in (files.config.get("auto_map") or {}).items()}
        evidence["official_auto_map"] = shipped
        for auto in ("AutoModelForCausalLM", "AutoModel", "AutoConfig"):
            if auto in rc.auto_map and shipped.get(auto) != rc.auto_map[auto]:
                problems.append(f"config.json auto_map.{auto} is {shipped.get(auto)!r}, entry says {rc.auto_map[auto]!r}")
    cites = f"{rc.modeling_file} cited" if own_file else f"vendor code cited ({rc.modeling_file} itself is not)"
    return Outcome(not problems, "; ".join(problems) or
                   f"{arch.model_class}: layout and LoRA presets consistent, {cites}", evidence)
