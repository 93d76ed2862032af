"""Adapters: the plan's adapter section applied to a loaded model through peft (or by freezing).

lora / dora / rslora / pissa / qlora are peft LoRA variants (flags in the plan's `peft_kwargs`), oft is
peft's OFT; `freeze` trains only the last N decoder layers; `full` trains everything. Target names are
checked against the instantiated model before training: a preset that matches no Linear layer (a
family file that is wrong about its architecture) is an error, not a silent no-op.
"""

from __future__ import annotations

from typing import Any

from dayzero.errors import RecipeError, Where

from ..plan import AdapterPlan


def linear_leaf_names(model: Any) -> set[str]:
    """Leaf names of every nn.Linear (or bitsandbytes Linear) in the model."""
    import torch

    names = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) or type(module).__name__ in ("Linear4bit", "Linear8bitLt"):
            names.add(name.rsplit(".", 1)[-1])
    return names


def meta_linear_names(config: Any, *, trust_remote_code: bool = False) -> set[str]:
    """Linear leaf names of the model a config describes, built on the meta device (no memory, no weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    return linear_leaf_names(model)


def check_targets(model: Any, targets: list[str]) -> None:
    """Raise when a target name matches no Linear layer of the instantiated model."""
    present = linear_leaf_names(model)
    missing = [t for t in targets if t not in present]
    if missing:
        raise RecipeError(
            f"target modules {missing} are not Linear layers of {type(model).__name__}; it has {sorted(present)}",
            where=Where(field="method.target"),
            hint="fix the family's `architecture.lora` presets or the recipe's `method.target` list",
        )


def apply_adapter(model: Any, adapter: AdapterPlan) -> Any:
    """The model ready to train: wrapped in a peft adapter, or with all but the trained layers frozen."""
    if adapter.peft_config is not None:
        import peft

        check_targets(model, adapter.target_modules)
        if adapter.quantization:
            model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        config = getattr(peft, adapter.peft_config)(**adapter.peft_kwargs)
        return peft.get_peft_model(model, config)
    if adapter.kind == "freeze":
        return _freeze_all_but_last(model, adapter)
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def _freeze_all_but_last(model: Any, adapter: AdapterPlan) -> Any:
    n_layers = int(model.config.get_text_config().num_hidden_layers)
    keep = adapter.trainable_layers or 1
    if keep > n_layers:
        raise RecipeError(
            f"`trainable_layers` is {keep} but the model has {n_layers} layers", where=Where(field="method.trainable_layers")
        )
    assert adapter.layers is not None
    prefixes = tuple(adapter.layers.format(i) + "." for i in range(n_layers - keep, n_layers))
    trained = 0
    for name, param in model.named_parameters():
        train = name.startswith(prefixes) or name.startswith("score.")  # a reward head always trains
        param.requires_grad_(train)
        trained += int(train)
    if trained == 0:
        raise RecipeError(
            f"no parameter lies under {adapter.layers!r}: the family's `architecture.layers` path is wrong",
            where=Where(field="architecture.layers"),
        )
    return model


def trainable_summary(model: Any) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}
