"""Architecture: a tiny random instance of the real transformers class builds, and the entry's
module paths, LoRA presets and tied-embedding fact hold on it (and on the official config.json)."""

from __future__ import annotations

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
    return Outcome(report.ok, "; ".join(problems) or "all paths exist; every LoRA target hits a Linear", evidence)


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
    return Outcome(not problems, "; ".join(problems) or "config.json agrees with the entry", evidence)


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
