"""Module layout of the transformers class, and LoRA target presets derived from it."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from .common import ModulePath, Strict


class Attention(Strict):
    """Attention projections, relative to a layer. Either q/k/v or a fused qkv, plus o."""

    q: ModulePath | None = None
    k: ModulePath | None = None
    v: ModulePath | None = None
    qkv: ModulePath | None = Field(default=None, description="Fused projection (Phi-3's `qkv_proj`).")
    o: ModulePath
    extra: list[ModulePath] = Field(
        default_factory=list, description="Other attention Linear layers (DeepSeek's low-rank q_a/q_b, kv_a/kv_b)."
    )

    @model_validator(mode="after")
    def _q_k_v_or_qkv(self) -> Attention:
        split = [self.q, self.k, self.v]
        if self.qkv is None and any(p is None for p in split) and not self.extra:
            raise ValueError("attention needs q, k and v, or a fused `qkv`, or `extra` projections")
        if self.qkv is not None and any(p is not None for p in split):
            raise ValueError("attention has both a fused `qkv` and separate q/k/v: choose one")
        return self

    def paths(self) -> list[str]:
        return [p for p in (self.q, self.k, self.v, self.qkv, self.o, *self.extra) if p]


class Mlp(Strict):
    """MLP projections, relative to a layer. Either gate/up or a fused gate_up, plus down."""

    gate: ModulePath | None = None
    up: ModulePath | None = None
    gate_up: ModulePath | None = Field(default=None, description="Fused projection (Phi-3, GLM-4).")
    down: ModulePath

    @model_validator(mode="after")
    def _gate_up_or_fused(self) -> Mlp:
        if self.gate_up is not None and (self.gate or self.up):
            raise ValueError("mlp has both a fused `gate_up` and separate gate/up: choose one")
        if self.gate_up is None and self.up is None:
            raise ValueError("mlp needs `up` (and usually `gate`) or a fused `gate_up`")
        return self

    def paths(self) -> list[str]:
        return [p for p in (self.gate, self.up, self.gate_up, self.down) if p]


class Moe(Strict):
    """Mixture-of-experts parts of a layer."""

    experts: ModulePath = Field(description="The experts container, relative to a layer.")
    router: ModulePath = Field(description="The router Linear; never a LoRA target.")
    fused_parameters: list[str] = Field(
        default_factory=list,
        description="3-D expert parameters that are not nn.Linear (need peft `target_parameters`).",
    )
    shared_experts: ModulePath | None = Field(default=None, description="Always-on shared experts, if any.")
    block_class: str | None = Field(
        default=None,
        description="Class of the sparse-MoE block (the experts' parent): DeepSpeed ZeRO-3 must treat it as a leaf "
        "module, or ranks that route to different experts wait on each other forever (the Mixtral ZeRO-3 hang).",
    )
    dense_layers: list[int] = Field(
        default_factory=list, description="Layer indices that keep a dense MLP instead of experts."
    )


class LoraPresets(Strict):
    """Target names for peft's ``target_modules`` (leaf names, matched as suffixes)."""

    attention: list[str] = Field(min_length=1)
    mlp: list[str] = Field(default_factory=list)
    all_linear: list[str] = Field(alias="all-linear", min_length=1)
    target_parameters: list[str] = Field(
        default_factory=list, description="MoE expert parameters for peft `target_parameters`, if LoRA on experts."
    )
    never: list[str] = Field(
        default_factory=lambda: ["lm_head"], description="Modules never to target (lm_head, routers, vision tower)."
    )


LayerPart = Literal["attention", "mlp", "moe"]


class LayerKind(Strict):
    """What one kind of decoder layer holds: which of the entry's `attention` / `mlp` / `moe` sections, and the
    Linear layers of any other token mixer (Mamba-2, Gated DeltaNet), all relative to a layer."""

    parts: list[LayerPart] = Field(
        default_factory=list,
        description="The sections of this entry a layer of this kind holds (`attention`, `mlp`, `moe`); "
        "a section not named here is absent from such a layer.",
    )
    mixer: list[ModulePath] = Field(
        default_factory=list,
        description="Linear layers of a token mixer the sections above do not describe (Mamba-2's "
        "`mamba.in_proj` / `mamba.out_proj`, Gated DeltaNet's `linear_attn.in_proj_qkv`).",
    )

    @model_validator(mode="after")
    def _holds_something(self) -> LayerKind:
        if not self.parts and not self.mixer:
            raise ValueError("a layer kind needs `parts` or `mixer` paths")
        if len(set(self.parts)) != len(self.parts):
            raise ValueError(f"layer kind parts {self.parts} repeat a section")
        return self


class LayerKinds(Strict):
    """Hybrid models: layers differ (Mamba or linear-attention mixers beside full attention, MoE beside MLP).

    The config names each layer's kind in a list (`layer_types`); each kind says which module paths its layers
    hold. Module checks, LoRA presets, the FSDP2 wrap unit and the MoE block are then checked per layer kind.
    """

    config_key: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The (text) config attribute listing one kind per decoder layer, e.g. `layer_types`.",
    )
    kinds: dict[str, LayerKind] = Field(
        min_length=2, description="Each value the config list may hold -> what a layer of that kind holds."
    )

    def of(self, config: Any) -> list[str]:
        """The kind of each layer of a live config (transformers' attribute, or a config.json dict)."""
        listed = config.get(self.config_key) if isinstance(config, dict) else getattr(config, self.config_key, None)
        return [str(k) for k in listed] if isinstance(listed, (list, tuple)) else []


class RemoteCode(Strict):
    """The architecture is the vendor's own modeling file (`auto_map` in config.json), not a transformers class.

    Such a family's module layout and LoRA targets cannot be walked from a class dayzero can import: they are
    data read from the vendor's modeling file (cited in `verified_against` with kind `vendor-code`). Nothing
    builds a tiny instance of it, so the checks that walk the real class report "not run", and loading it needs
    `model.trust_remote_code: true`, asked for by name in the recipe (rule X002), never turned on by dayzero.
    """

    auto_map: dict[str, str] = Field(
        description="config.json's `auto_map` as the release ships it: auto class -> `module.Class` "
        "(`modeling_chatglm.ChatGLMForConditionalGeneration`); must name `AutoModelForCausalLM` or `AutoModel`."
    )
    modeling_file: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.py$", description="The vendor's modeling file, e.g. `modeling_chatglm.py`."
    )
    tokenizer_class: str | None = Field(
        default=None,
        description="`tokenizer_config.auto_map.AutoTokenizer` where the tokenizer is remote code too "
        "(`tokenization_chatglm.ChatGLMTokenizer`); None: the release ships a tokenizer transformers loads.",
    )

    @field_validator("auto_map")
    @classmethod
    def _module_dot_class(cls, value: dict[str, str]) -> dict[str, str]:
        for auto, target in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*", target):
                raise ValueError(f"auto_map.{auto} must be `module.Class`, got {target!r}")
        if not ({"AutoModelForCausalLM", "AutoModel"} & set(value)):
            raise ValueError("auto_map names neither AutoModelForCausalLM nor AutoModel: nothing loads a causal LM")
        return value

    def causal_lm(self) -> str:
        """`module.Class` that `AutoModelForCausalLM.from_pretrained(..., trust_remote_code=True)` instantiates."""
        return self.auto_map.get("AutoModelForCausalLM") or self.auto_map["AutoModel"]


class Architecture(Strict):
    model_class: str = Field(alias="class", description="transformers class name, e.g. `Qwen2ForCausalLM`.")
    model_type: str = Field(description="`config.model_type` of the tiny instance.")
    layers: ModulePath = Field(description="Path to the decoder layers, with `{}` for the index.")
    decoder_layer: str | None = Field(
        default=None,
        description="Class of one decoder layer (one of the class's `_no_split_modules`): FSDP2's wrap unit.",
    )
    attention: Attention
    mlp: Mlp | None = Field(default=None, description="Dense MLP of a layer (absent where every layer is MoE).")
    moe: Moe | None = None
    embeddings: ModulePath
    lm_head: ModulePath = "lm_head"
    tie_word_embeddings: bool = Field(description="Whether lm_head shares the embedding matrix.")
    exclude: list[ModulePath] = Field(
        default_factory=list, description="Parts never trained or merged (vision tower, projector)."
    )
    lora: LoraPresets
    tiny: dict[str, Any] = Field(
        default_factory=dict,
        description="Config overrides for the tiny random instance (hidden ~64, 2 layers); ids set explicitly.",
    )
    remote_code: RemoteCode | None = Field(
        default=None,
        description="Set when the class is the vendor's code (`auto_map`), not transformers': `class` is then the "
        "vendor's class name and the layout below is data from its modeling file; no tiny instance exists.",
    )
    layer_kinds: LayerKinds | None = Field(
        default=None,
        description="Hybrid models only: the kinds of decoder layer (from a config list such as `layer_types`) "
        "and the sections each holds. Absent: every layer holds `attention` and `mlp` (or `moe`, bar "
        "`moe.dense_layers`).",
    )

    @model_validator(mode="after")
    def _layers_has_placeholder(self) -> Architecture:
        if "{}" not in self.layers:
            raise ValueError(f"`layers` must contain the `{{}}` layer placeholder, got {self.layers!r}")
        if self.mlp is None and self.moe is None:
            raise ValueError("an architecture needs `mlp`, `moe` or both")
        if self.remote_code is not None:
            named = self.remote_code.causal_lm().rsplit(".", 1)[1]
            if named != self.model_class:
                raise ValueError(f"`class` is {self.model_class!r} but remote_code.auto_map loads {named!r}")
            if self.tiny:
                raise ValueError("a remote-code architecture has no tiny instance: `tiny` must be empty")
        if self.layer_kinds is not None:
            self._check_layer_kinds(self.layer_kinds)
        return self

    def _check_layer_kinds(self, lk: LayerKinds) -> None:
        for name, kind in lk.kinds.items():
            for part in kind.parts:
                if getattr(self, part) is None:
                    raise ValueError(f"layer kind {name!r} holds `{part}`, but the entry has no `{part}` section")
        if not any("attention" in k.parts for k in lk.kinds.values()):
            raise ValueError("no layer kind holds `attention`: the entry's `attention` section would name nothing")
        used = {p for k in lk.kinds.values() for p in k.parts}
        for part in ("mlp", "moe"):
            if getattr(self, part) is not None and part not in used:
                raise ValueError(f"the entry has a `{part}` section that no layer kind holds")
        if self.moe is not None and self.moe.dense_layers:
            raise ValueError("`moe.dense_layers` and `layer_kinds` both place the MoE layers: name them by kind only")
        if self.remote_code is not None:
            return
        listed = self.tiny.get(lk.config_key)
        if not isinstance(listed, list):
            raise ValueError(f"`tiny.{lk.config_key}` must list the tiny instance's layer kinds (one per layer)")
        unknown = sorted({str(k) for k in listed} - set(lk.kinds))
        if unknown:
            raise ValueError(f"`tiny.{lk.config_key}` names kinds {unknown} that `layer_kinds.kinds` lacks")
        unused = [k for k in lk.kinds if k not in listed]
        if unused:
            raise ValueError(f"`tiny.{lk.config_key}` never uses layer kinds {unused}: the tiny instance must "
                             "exercise every kind")

    @model_serializer(mode="wrap")
    def _omit_absent_remote_code(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Every transformers-class family dumps (and so hashes and reports) exactly as before the field existed.
        data = handler(self)
        for optional in ("remote_code", "layer_kinds"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data

    @property
    def is_remote_code(self) -> bool:
        """True when the class is the vendor's `auto_map` code: nothing in dayzero can build or walk it."""
        return self.remote_code is not None

    def layer_module_paths(self) -> list[str]:
        """Every Linear-layer path this entry names, relative to a decoder layer (of any kind)."""
        paths = self.attention.paths()
        if self.mlp:
            paths += self.mlp.paths()
        if self.moe:
            paths.append(self.moe.router)
        if self.layer_kinds:
            paths += [p for k in self.layer_kinds.kinds.values() for p in k.mixer if p not in paths]
        return paths

    def layer_parts(self, index: int, kinds: list[str] | None = None) -> tuple[set[str], list[str]]:
        """The sections (`attention`, `mlp`, `moe`) layer `index` holds and its other mixer paths.

        `kinds`: the instance's per-layer list (`layer_kinds.of(config)`); needed when the entry has
        `layer_kinds`. A kind the entry does not know raises KeyError (a fact missing from the file).
        """
        if self.layer_kinds is not None:
            kind = self.layer_kinds.kinds[(kinds or [])[index]]
            return set(kind.parts), list(kind.mixer)
        dense = self.moe is None or index in self.moe.dense_layers
        parts = {"attention"} | ({"mlp"} if dense and self.mlp is not None else set())
        if not dense:
            parts.add("moe")
        return parts, []
