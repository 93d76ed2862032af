"""Tiny random instances of a family: the real transformers class at hidden 64 / 2 layers.

Why: every stage of dayzero (data, templates, training, export, serving) must be exercised on every
family without downloading a checkpoint. A tiny instance built from the family's own
``architecture.tiny`` overrides runs the same code paths as the real model (same class, same module
names, same fused experts), so a module path or LoRA target that is wrong in a family file fails
here, in milliseconds, instead of on a 70B download.

The tiny tokenizer is a small byte-level BPE trained offline on a built-in corpus, carrying every
special token the family names as one id each. It is byte-level even for SentencePiece families:
tiny tokenizers are for pipeline tests (special tokens, bos, padding, chat templates); the real
vocabularies are tested through the reference vectors (``tokenizer.reference_vectors``).

Heavy libraries (torch, transformers, tokenizers) are imported inside the functions.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dayzero.errors import NotSupportedError, RegistryError, Where

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast

    from dayzero.registry.schema import Family

__all__ = [
    "ModuleReport",
    "check_modules",
    "linear_module_names",
    "refuse_remote_code",
    "save_tiny",
    "tiny_config",
    "tiny_corpus",
    "tiny_model",
    "tiny_tokenizer",
]

TINY_VOCAB_SIZE = 512
_MODEL_MAX_LENGTH = 2048


def tiny_config(
    family: Family, vocab_size: int | None = None, extra: dict[str, Any] | None = None
) -> PretrainedConfig:
    """The config of a tiny instance: ``architecture.tiny`` on top of the model type's defaults.

    ``vocab_size`` overrides the family's tiny vocabulary (``tiny_model`` passes the tokenizer's size);
    ``extra`` overrides more (e.g. the head size an engine needs, `sdk/serve/vllm_tiny.py`).
    """
    from transformers import AutoConfig

    arch = family.architecture
    refuse_remote_code(family)
    overrides: dict[str, Any] = {**arch.tiny, **(extra or {})}
    overrides.setdefault("tie_word_embeddings", arch.tie_word_embeddings)
    if vocab_size is not None and "text_config" in overrides:  # a vision-language model: the vocab is its LM's
        overrides["text_config"] = {**overrides["text_config"], "vocab_size": vocab_size}
    elif vocab_size is not None:
        overrides["vocab_size"] = vocab_size
    try:
        config = AutoConfig.for_model(arch.model_type, **overrides)
    except ValueError as exc:
        raise NotSupportedError(
            f"transformers has no config for model_type {arch.model_type!r}: {exc}",
            where=Where(field="architecture.model_type"),
            hint="check the family's `architecture.model_type` against the installed transformers",
        ) from None
    config.architectures = [arch.model_class]
    return config


REMOTE_CODE_NOT_RUN = "not run: remote code (needs trust_remote_code and the vendor's modeling file)"


def refuse_remote_code(family: Family) -> None:
    """Raise NotSupportedError for a family whose class is the vendor's `auto_map` code.

    dayzero never runs a model repository's code on its own account, and it has no copy of the vendor's modeling
    file to build a tiny instance from: every stage that needs the real class says so instead of faking one.
    """
    rc = family.architecture.remote_code
    if rc is not None:
        raise NotSupportedError(
            f"family {family.id}: {family.architecture.model_class} is remote code ({rc.modeling_file}, "
            f"auto_map {rc.causal_lm()}): no tiny instance; {REMOTE_CODE_NOT_RUN.removeprefix('not run: ')}",
            where=Where(field="architecture.remote_code"),
            hint="train the real checkpoint with `model.trust_remote_code: true` in the recipe",
        )


def tiny_corpus() -> str:
    """A few KB of varied text (prose, code, digits, accents, CJK, emoji), generated deterministically.

    Built from fixed fragments and a fixed linear congruential sequence, so the trained tokenizer is
    the same on every machine and every run (no download, no randomness).
    """
    prose = [
        "The quick brown fox jumps over the lazy dog.",
        "A model family is a set of checkpoints that share an architecture and a tokenizer.",
        "Fine-tuning changes the weights; the chat template decides what the model sees.",
        "Please answer briefly: what is the capital of France? Paris is the capital.",
        'She said, "Don\'t forget the end-of-turn token!" and left at 9:45 a.m.',
        "Über naïve café façades, señor Müller ate crème brûlée.",
        "東京は日本の首都です。大規模言語モデルを微調整する。",
        "北京欢迎你，今天天气很好。",
        "Привет, как дела? Всё хорошо.",
        "مرحبا بالعالم",
        "Emoji: 🙂 🚀 👍🏽 ✨ — and symbols: © ® ™ ∑ ∞ ≤ ≥ ±.",
    ]
    code = [
        "def add(a: int, b: int) -> int:\n    return a + b\n",
        "for (int i = 0; i < n; ++i) { total += values[i]; }\n",
        'import json\nprint(json.dumps({"name": "tool", "arguments": {"x": 1}}))\n',
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;\n",
        '<div class="note">Hello &amp; welcome</div>\n',
        "    if x is None:\n        raise ValueError('x must be set')\n",
    ]
    parts: list[str] = []
    state = 12345
    for round_ in range(6):
        for i, line in enumerate(prose + code):
            state = (1103515245 * state + 12345) % (2**31)
            number = state % 100000
            parts.append(f"{line} {number} {round_ * 7 + i}.{number % 97:02d}\n")
    parts.append("  \t\n\n   leading and trailing   whitespace   \n")
    return "".join(parts)


def tiny_tokenizer(family: Family, chat_template: str | None = None) -> PreTrainedTokenizerFast:
    """A byte-level BPE of about 512 ids carrying all of the family's special tokens, one id each.

    Special tokens take the first ids, in the order of ``family.tokenizer.all_special()`` (so bos,
    eos, pad come first and the ids written in ``architecture.tiny`` can be checked). bos is
    prepended when the family's ``add_bos`` says so; padding uses the family's training side and
    the family's pad token, or eos where the family has none.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    facts = family.tokenizer
    specials = facts.all_special()
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(tiny_corpus().splitlines(keepends=True), trainer=trainer)
    if facts.add_bos:
        assert facts.bos is not None  # the schema guarantees it
        bos_id = backend.token_to_id(facts.bos)
        backend.post_processor = processors.TemplateProcessing(
            single=f"{facts.bos} $A",
            pair=f"{facts.bos} $A {facts.bos} $B",
            special_tokens=[(facts.bos, bos_id)],
        )
    else:
        backend.post_processor = processors.ByteLevel(trim_offsets=False)

    named = {facts.bos, facts.eos, facts.pad, facts.unk}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=facts.bos,
        eos_token=facts.eos,
        pad_token=facts.pad or facts.eos,
        unk_token=facts.unk,
        additional_special_tokens=[t for t in specials if t not in named],
        padding_side=facts.padding_side.train,
        model_max_length=_MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.add_bos_token = facts.add_bos
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def tiny_model(
    family: Family, tokenizer: PreTrainedTokenizerFast | None = None, seed: int = 0,
    extra: dict[str, Any] | None = None,
) -> PreTrainedModel:
    """A randomly initialised instance of the family's real class, sized to ``tokenizer``.

    The config's bos/eos/pad ids are the tokenizer's, and generation stops on the tiny ids of the
    family's ``serving.generation_eos``. Same seed, same weights.
    """
    refuse_remote_code(family)
    import torch
    import transformers

    tokenizer = tokenizer or tiny_tokenizer(family)
    config = tiny_config(family, vocab_size=len(tokenizer), extra=extra)
    from .tiny_vision import set_vision_token_ids, text_config

    for cfg in {id(config): config, id(text_config(config)): text_config(config)}.values():
        cfg.bos_token_id = tokenizer.bos_token_id
        cfg.eos_token_id = tokenizer.eos_token_id
        cfg.pad_token_id = tokenizer.pad_token_id
    set_vision_token_ids(config, family, tokenizer)
    cls = getattr(transformers, family.architecture.model_class, None)
    if cls is None:
        raise NotSupportedError(
            f"transformers {transformers.__version__} has no class {family.architecture.model_class!r}",
            where=Where(field="architecture.class"),
        )
    torch.manual_seed(seed)
    model = cls(config)
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = generation_eos_ids(family, tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def generation_eos_ids(family: Family, tokenizer: PreTrainedTokenizerFast) -> list[int]:
    """Ids of ``serving.generation_eos`` in ``tokenizer``; each must be a single known token."""
    ids: list[int] = []
    for token in family.serving.generation_eos:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id == tokenizer.unk_token_id or token not in tokenizer.get_vocab():
            raise RegistryError(
                f"generation eos token {token!r} is not a token of the tokenizer",
                where=Where(field="serving.generation_eos"),
                hint="every generation_eos token must also be listed under `tokenizer` (eos, end_of_turn or special)",
            )
        ids.append(token_id)
    return ids


def save_tiny(
    family: Family, out_dir: Path, chat_template: str | None = None, extra: dict[str, Any] | None = None
) -> Path:
    """Write a complete tiny model directory (weights, config, generation config, tokenizer).

    The directory is built under a temporary name beside ``out_dir`` and renamed into place, so a
    directory at ``out_dir`` is always complete; an existing one is replaced.
    """
    refuse_remote_code(family)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(family, chat_template=chat_template)
    model = tiny_model(family, tokenizer, extra=extra)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if family.vision is not None:  # preprocessor_config.json, so the directory loads like a release
            from .tiny_vision import image_processor

            image_processor(family, tiny=True).save_pretrained(staging)
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            out_dir.rename(trash / out_dir.name)
            staging.rename(out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def linear_module_names(model: Any) -> set[str]:
    """Full names of every ``torch.nn.Linear`` module in ``model``."""
    import torch

    return {name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


@dataclass
class ModuleReport:
    """What a family's architecture section says, checked against a live instance.

    ``missing``: module or parameter paths named by the family that the instance lacks.
    ``hits``: per LoRA preset (``attention``, ``mlp``, ``all-linear``), each target name and the
    nn.Linear modules it matches as a suffix. ``parameter_hits``: each ``target_parameters`` name and
    the parameters it matches. ``never_hits``: each ``never`` name and the modules it names.
    """

    missing: list[str] = field(default_factory=list)
    hits: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    parameter_hits: dict[str, list[str]] = field(default_factory=dict)
    never_hits: dict[str, list[str]] = field(default_factory=dict)
    kinds: dict[str, list[int]] = field(default_factory=dict)
    """Hybrid entries: each layer kind and the tiny instance's layers of that kind (empty: not exercised)."""

    def unmatched(self) -> list[str]:
        """``preset:name`` for every LoRA target name that hits nothing (each is a bug in the family file)."""
        out = [
            f"{preset}:{name}"
            for preset, names in self.hits.items()
            for name, found in names.items()
            if not found
        ]
        out += [f"target_parameters:{n}" for n, found in self.parameter_hits.items() if not found]
        out += [f"never:{n}" for n, found in self.never_hits.items() if not found]
        out += [f"layer_kinds:{k} (no layer of this kind)" for k, found in self.kinds.items() if not found]
        return out

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unmatched()


def _suffix_matches(names: set[str], target: str) -> list[str]:
    return sorted(n for n in names if n == target or n.endswith("." + target))


def check_modules(family: Family, model: Any) -> ModuleReport:
    """Check every path and LoRA target of ``family.architecture`` against ``model``.

    Each decoder layer of the instance is checked, and must be of class ``decoder_layer``: layers listed
    in ``moe.dense_layers`` (or every layer of a dense family) must have the dense MLP; the others the
    experts, router, shared experts and fused expert parameters. A hybrid entry (``layer_kinds``) reads
    each layer's kind from the instance's config and checks the sections and mixer paths of that kind;
    every kind must occur in the instance.
    """
    arch = family.architecture
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    report = ModuleReport()

    def need_module(path: str) -> None:
        if path not in modules:
            report.missing.append(path)

    def need_param(path: str) -> None:
        if path not in params:
            report.missing.append(path)

    need_module(arch.embeddings)
    need_module(arch.lm_head)
    if family.vision is not None:
        for prefix in family.vision.modules.model_dump().values():
            need_module(prefix)
    from .tiny_vision import text_config

    cfg = text_config(model.config)
    kinds = arch.layer_kinds.of(cfg) if arch.layer_kinds is not None else None
    n_layers = cfg.num_hidden_layers
    if arch.layer_kinds is not None:
        key = arch.layer_kinds.config_key
        if len(kinds or []) != n_layers:
            report.missing.append(f"config.{key} (one layer kind per layer: {len(kinds or [])} for {n_layers} layers)")
            n_layers = min(n_layers, len(kinds or []))
        report.kinds = {name: [i for i, k in enumerate(kinds or []) if k == name] for name in arch.layer_kinds.kinds}
    for index in range(n_layers):
        layer = arch.layers.replace("{}", str(index))
        need_module(layer)
        if arch.decoder_layer and layer in modules and type(modules[layer]).__name__ != arch.decoder_layer:
            report.missing.append(f"{layer} as {arch.decoder_layer} (it is {type(modules[layer]).__name__})")
        try:
            parts, mixer = arch.layer_parts(index, kinds)
        except KeyError:
            assert kinds is not None and arch.layer_kinds is not None
            report.missing.append(f"{layer}: layer kind {kinds[index]!r} in architecture.layer_kinds")
            continue
        if "attention" in parts:
            for rel in arch.attention.paths():
                need_module(f"{layer}.{rel}")
        if "mlp" in parts and arch.mlp is not None:
            for rel in arch.mlp.paths():
                need_module(f"{layer}.{rel}")
        if "moe" in parts and arch.moe is not None:
            moe = arch.moe
            for rel in filter(None, (moe.experts, moe.router, moe.shared_experts)):
                need_module(f"{layer}.{rel}")
            for name in moe.fused_parameters:
                need_param(f"{layer}.{moe.experts}.{name}")
        for rel in mixer:
            need_module(f"{layer}.{rel}")

    linear = linear_module_names(model)
    presets = {"attention": arch.lora.attention, "mlp": arch.lora.mlp, "all-linear": arch.lora.all_linear}
    report.hits = {p: {name: _suffix_matches(linear, name) for name in names} for p, names in presets.items()}
    report.parameter_hits = {name: _suffix_matches(set(params), name) for name in arch.lora.target_parameters}
    report.never_hits = {name: _suffix_matches(set(modules), name) for name in arch.lora.never}
    return report
