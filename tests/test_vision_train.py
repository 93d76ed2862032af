"""VLM training through `dayzero run`: image-conditioned full SFT, LoRA kept in the language model, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.errors import RecipeError

REG = registry.load()
DEMO = Path(registry.__file__).resolve().parent.parent / "recipes" / "data"
COLOURS = ["red", "green", "blue", "yellow"]


def _answer_logprob(model, tok, family, colour_in_picture: str, answered: str) -> float:
    import torch

    from dayzero.sdk.data.images_rows import encode_row
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.tiny_vision import image_processor
    from dayzero.sdk.train.vision import VisionCollator

    row = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": f"vl_demo/{colour_in_picture}.png"},
                    {"type": "text", "text": "Which colour do you see?"},
                ],
            },
            {"role": "assistant", "content": f"The square is {answered}."},
        ]
    }
    template = (
        ChatTemplate.from_official(tok.chat_template)
        if tok.chat_template
        else ChatTemplate.for_family(family)
    )
    enc = encode_row(
        row,
        family,
        template,
        tok,
        image_processor(family, tiny=True),
        base_dir=DEMO,
        model_config=model.config,
    )
    batch = VisionCollator(tok.pad_token_id)([enc])
    with torch.no_grad():
        logits = model(**batch).logits[0, :-1].float()
    labels = batch["labels"][0, 1:]
    keep = labels != -100
    return float(torch.log_softmax(logits[keep], -1).gather(1, labels[keep][:, None]).sum())


@pytest.mark.slow
def test_quickstart_vl_learns_to_read_the_picture(tmp_path: Path) -> None:
    """The answers share every word but the colour, so only the picture tells them apart: after training, each
    picture's own colour must be the most likely answer (4 of 4; chance is 1 in 4 per picture)."""
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    from dayzero.sdk.runner import run

    result = run("quickstart-vl", overrides=[f"train.output_dir={tmp_path}/run"])
    assert result.losses[-1] < result.losses[0] / 10
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["data"]["rows"] == 16 and info["data"]["images"] == 16
    final = result.run_dir / "final"
    tok = AutoTokenizer.from_pretrained(final)
    model = AutoModelForImageTextToText.from_pretrained(final).eval()
    family = REG.families["qwen2-vl"]
    for colour in COLOURS:
        scores = {answer: _answer_logprob(model, tok, family, colour, answer) for answer in COLOURS}
        assert max(scores, key=scores.get) == colour, scores
    # the vision tower stayed frozen, the projector trained (the recipe's freeze_projector: false)
    assert info["metrics"]["trainable"] < info["metrics"]["total"]


@pytest.mark.slow
def test_lora_on_a_vlm_stays_in_the_language_model(tmp_path: Path) -> None:
    from dayzero.sdk.runner import run

    result = run(
        "quickstart-vl",
        overrides=[
            f"train.output_dir={tmp_path}/run",
            "method.adapter=lora",
            "train.max_steps=4",
            "train.learning_rate=1e-3",
        ],
    )
    config = json.loads((result.run_dir / "final" / "adapter_config.json").read_text())
    assert isinstance(config["target_modules"], str) and config["target_modules"].startswith(
        r"model\.language_model"
    )
    from safetensors import safe_open

    with safe_open(str(result.run_dir / "final" / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all(".language_model.layers." in k for k in keys)  # no adapter under model.visual


def test_plan_of_a_vlm_loads_it_with_its_auto_class_and_freezes_the_family_default_parts() -> None:
    from dayzero.sdk.compiler import compile

    plan = compile("quickstart-vl")
    assert plan.model.loader == "AutoModelForImageTextToText"
    assert plan.adapter.frozen_parts == ["vision_tower"]  # the recipe trains the projector
    plan = compile("quickstart-vl", overrides=["method.freeze_projector=true"])
    assert plan.adapter.frozen_parts == ["vision_tower", "projector"]


def test_dpo_and_packing_on_a_vlm_are_refused_at_plan_time_with_the_reason() -> None:
    from dayzero.sdk.compiler import compile

    with pytest.raises(
        RecipeError, match=r"`dpo` on the vision-language family qwen2-vl is not supported.*torchvision"
    ):
        compile("quickstart-vl", overrides=["method.stage=dpo", "data.datasets=[demo_preference]"])
    with pytest.raises(RecipeError, match=r"rows with images are not packed"):
        compile("quickstart-vl", overrides=["data.packing=true"])


def test_image_sft_on_families_whose_counts_the_processor_decides_is_refused_by_name(tmp_path: Path) -> None:
    from dayzero.errors import NotSupportedError
    from dayzero.sdk.templates.vision import image_token_count

    with pytest.raises(NotSupportedError, match="expansion kind `processor`"):
        image_token_count(REG.families["llava-next"].vision, {}, 0)
    with pytest.raises(NotSupportedError, match="cross_attention_mask"):
        image_token_count(REG.families["mllama"].vision, {}, 0)
