"""QLoRA and 8-bit LoRA on tiny models, on this CPU: bitsandbytes quantizes the base, LoRA trains on it,
the export merges into the full-precision base (checked exactly, then against the quantized model + adapter),
and an adapter-only export serves on the quantized base."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from dayzero import sdk

pytestmark = pytest.mark.slow
pytest.importorskip("bitsandbytes")


def qlora_recipe(tmp_path: Path, stage: str = "sft", **sections: Any) -> dict[str, Any]:
    data = {"sft": "demo_sft", "dpo": "demo_preference"}[stage]
    recipe: dict[str, Any] = {
        "name": f"{stage}-qlora",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": [data], "max_samples": 16, "cutoff_len": 256},
        "method": {"stage": stage, "adapter": "qlora", "r": 4, "alpha": 8},
        "train": {"max_steps": 4, "batch_size": 2, "learning_rate": 5e-3, "logging_steps": 1, "save_steps": 100,
                  "report_to": "none", "output_dir": str(tmp_path / "{name}")},
        "export": {"enabled": True, "merge": True, "ollama": False},
        "sample": {"prompt": None},
    }
    for key, value in sections.items():
        recipe[key] = {**recipe.get(key, {}), **value}
    return recipe


def _linear4bit_count(model: Any) -> int:
    import bitsandbytes

    return sum(isinstance(m, bitsandbytes.nn.Linear4bit) for m in model.modules())


def test_qlora_sft_trains_on_a_4bit_base_and_the_merge_is_verified(tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    from transformers import TrainerCallback

    class Spy(TrainerCallback):  # what the trainer really trained: a base with bitsandbytes 4-bit layers
        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            seen["linear4bit"] = _linear4bit_count(model)

    result = sdk.run(qlora_recipe(tmp_path), console=False, callbacks=[Spy()])
    assert seen["linear4bit"] == 14  # 2 layers x 7 projections; lm_head is a skip module
    assert len(result.losses) == 4 and all(math.isfinite(x) for x in result.losses)
    info = json.loads((result.run_dir / "run.json").read_text())
    export = info["export"]
    assert export["merged"] is True and export["max_logit_diff"] <= 1e-5  # exact: full-precision base + adapter
    assert export["quantized_relative_error"] <= export["quantized_tolerance"] == 0.25  # vs what was trained (4 bits)
    assert export["quantized_max_logit_diff"] > 1e-4  # the 4-bit model really differs from the full-precision merge
    config = json.loads((result.export_dir / "config.json").read_text())
    assert "quantization_config" not in config  # the merged export is a plain full-precision model


def test_qlora_dpo_trains(tmp_path: Path) -> None:
    result = sdk.run(qlora_recipe(tmp_path, "dpo", export={"enabled": False}), console=False)
    assert result.metrics["global_step"] == 4 and all(math.isfinite(x) for x in result.losses)
    assert (result.run_dir / "final" / "adapter_config.json").is_file()


def test_8bit_lora_trains(tmp_path: Path) -> None:
    r = qlora_recipe(tmp_path, method={"adapter": "lora", "quantization": "bnb-8bit"}, export={"enabled": False})
    result = sdk.run(r, console=False)
    assert len(result.losses) == 4 and all(math.isfinite(x) for x in result.losses)


def test_adapter_only_export_serves_on_the_quantized_base(tmp_path: Path) -> None:
    from dayzero.sdk.serve import load_service

    result = sdk.run(qlora_recipe(tmp_path, export={"merge": False}), console=False)
    record = json.loads((result.export_dir / "dayzero_export.json").read_text())
    assert record["merged"] is False and record["quantization"]["load_in_4bit"] is True
    service = load_service(result.export_dir)
    try:
        model = service.backend.model
        assert _linear4bit_count(model) == 14 and type(model).__name__ == "PeftModelForCausalLM"
    finally:
        service.backend.close()
