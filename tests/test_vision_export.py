"""Exporting a tiny Qwen2-VL run: processor files, the image-probe check, reload in plain transformers, serving.

The run is a LoRA SFT of the family's tiny instance (the real `Qwen2VLForConditionalGeneration`) on the bundled
colour pictures (`demo_vl`). Expected values come from outside the export: peft's base + adapter on an image
prompt the test builds itself (the PIL image processor, image tokens expanded by hand: a 56x84 image is 4x6
patches of 14, 6 tokens after the 2x2 merge), and plain `transformers` generation for the served answer.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dayzero import sdk
from dayzero.errors import ExportError

pytestmark = pytest.mark.slow

QUESTION = "What is in this picture?"


def _image(width: int = 56, height: int = 84) -> object:
    from PIL import Image

    image = Image.new("RGB", (width, height), (30, 160, 60))
    image.paste((240, 240, 20), (0, 0, width // 2, height // 2))
    return image


def _inputs(folder: Path, tokenizer_dir: Path) -> dict:
    """An image prompt built by hand: the chat template's text with the image tokens expanded, pixels, types."""
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    pixels = Qwen2VLImageProcessorPil.from_pretrained(str(folder))(images=[_image()], return_tensors="pt")
    assert pixels["image_grid_thw"].tolist() == [[1, 6, 4]]  # 84/14 x 56/14 patches
    span = "<|vision_start|>" + "<|image_pad|>" * 6 + "<|vision_end|>"
    text = tok.apply_chat_template(
        [{"role": "user", "content": span + QUESTION}], tokenize=False, add_generation_prompt=True
    )
    ids = tok(text, add_special_tokens=False, return_tensors="pt")
    types = (ids["input_ids"] == tok.convert_tokens_to_ids("<|image_pad|>")).long()
    return {**ids, **pixels, "mm_token_type_ids": types}


@pytest.fixture(scope="module")
def vl_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vl-runs")
    recipe = {
        "name": "vl-lora",
        "model": {"id": "tiny:qwen2-vl"},
        "data": {"datasets": ["demo_vl"], "max_samples": 8, "cutoff_len": 256},
        "method": {"stage": "sft", "adapter": "lora", "r": 4, "alpha": 8},
        "train": {
            "max_steps": 3,
            "batch_size": 2,
            "learning_rate": 2e-2,
            "report_to": "none",
            "output_dir": str(root / "{name}"),
        },
        "export": {"enabled": False},
    }
    return sdk.run(recipe, console=False).run_dir


@pytest.fixture(scope="module")
def merged(vl_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vl-export") / "merged"
    sdk.export(vl_run, out=out)
    return out


def test_merged_export_carries_the_processor_and_matches_on_an_image(vl_run: Path, merged: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoImageProcessor, AutoModelForImageTextToText

    names = {p.name for p in merged.iterdir()}
    assert {
        "preprocessor_config.json",
        "processor_config.json",
        "chat_template.jinja",
        "tokenizer.json",
        "tokenizer_config.json",
        "config.json",
        "generation_config.json",
        "model.safetensors",
    } <= names
    assert json.loads((merged / "processor_config.json").read_text())["processor_class"] == "Qwen2VLProcessor"
    manifest = json.loads((merged / "dayzero_export.json").read_text())
    vision = manifest["vision"]
    assert vision["image_probe_max_logit_diff"] <= 1e-5
    assert (
        vision["trained_image_max_logit_diff"] <= 1e-5
    )  # against the model in memory at the end of training
    assert vision["image_tokens"] == 12  # the probe's 56x84 and 84x56 images: 6 tokens each
    assert (
        vision["processor"]["auto_image_processor"]
        == type(AutoImageProcessor.from_pretrained(str(merged))).__name__
    )

    # Independently of the export's own check: base + adapter through peft on an image prompt built here.
    inputs = _inputs(merged, merged)
    base = AutoModelForImageTextToText.from_pretrained(str(vl_run / "base"), dtype=torch.float32)
    reference = PeftModel.from_pretrained(base, str(vl_run / "final")).eval()
    reloaded = AutoModelForImageTextToText.from_pretrained(str(merged), dtype=torch.float32).eval()
    fresh = AutoModelForImageTextToText.from_pretrained(str(vl_run / "base"), dtype=torch.float32).eval()
    with torch.no_grad():
        want, got, untrained = reference(**inputs).logits, reloaded(**inputs).logits, fresh(**inputs).logits
    assert (got - want).abs().max().item() < 1e-5
    assert (got - untrained).abs().max().item() > 1e-4  # the adapter changed the model: the check can tell
    # the image matters: another picture, other logits
    other = {**inputs, "pixel_values": torch.flip(inputs["pixel_values"], dims=[0])}
    with torch.no_grad():
        assert (reloaded(**other).logits - got).abs().max().item() > 1e-6


def test_auto_processor_without_torchvision_is_recorded(merged: Path) -> None:
    """Where torchvision is absent (here) the full Qwen2VLProcessor cannot load: the manifest says why, and the
    PIL image processor is what AutoImageProcessor gives; where it is present, AutoProcessor loads."""
    import importlib.util

    from transformers import AutoImageProcessor, AutoProcessor

    record = json.loads((merged / "dayzero_export.json").read_text())["vision"]["processor"]
    if importlib.util.find_spec("torchvision") is None:
        with pytest.raises(ImportError, match=r"[Tt]orchvision"):
            AutoProcessor.from_pretrained(str(merged))
        assert record["auto_processor"] is None and "orchvision" in record["auto_processor_error"]
        assert type(AutoImageProcessor.from_pretrained(str(merged))).__name__ == "Qwen2VLImageProcessorPil"
    else:  # pragma: no cover - not on this machine
        assert type(AutoProcessor.from_pretrained(str(merged))).__name__ == record["auto_processor"]


def test_a_wrong_image_logit_fails_the_check(vl_run: Path, merged: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    from dayzero import registry
    from dayzero.sdk.export_vision import VisionProbe

    vision = registry.get("qwen2-vl").vision
    probe = VisionProbe.prepare(
        vision, AutoTokenizer.from_pretrained(str(vl_run / "final")), vl_run / "final", vl_run / "base"
    )
    model = AutoModelForImageTextToText.from_pretrained(str(merged), dtype=torch.float32).eval()
    right = probe.logits(model)
    assert probe.check(model, right, merged, 1e-5)["image_probe_max_logit_diff"] == 0.0
    wrong = right.clone()
    wrong[0, int(probe.inputs["input_ids"].shape[1]) // 2, 3] += (
        0.01  # one logit, on an image-conditioned position
    )
    with pytest.raises(ExportError, match="image probe"):
        probe.check(model, wrong, merged, 1e-5)

    # the trained model's own image probe (stored by the run): as stored it passes, one changed logit fails
    from safetensors.torch import load_file, save_file

    stored = load_file(str(vl_run / "final" / "dayzero_probe.safetensors"))
    assert probe.check_trained(model, vl_run / "final" / "dayzero_probe.safetensors", 1e-5) <= 1e-5
    stored["image.logits"][0, -1, 0] += 0.01
    save_file(stored, str(tmp_path / "probe.safetensors"))
    with pytest.raises(ExportError, match="differs from the trained model"):
        probe.check_trained(model, tmp_path / "probe.safetensors", 1e-5)


def test_adapter_only_export_carries_the_processor_and_serves(
    vl_run: Path, merged: Path, tmp_path: Path
) -> None:
    from openai import OpenAI

    from dayzero.sdk import serve
    from dayzero.sdk.serve import ServerThread, create_app
    from dayzero.sdk.serve.images import data_uri

    out = tmp_path / "adapter"
    report = sdk.export(vl_run, out=out, merge=False)
    assert not report.merged
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "preprocessor_config.json",
        "processor_config.json",
    } <= {p.name for p in out.iterdir()}
    buf = io.BytesIO()
    _image().save(buf, format="PNG")
    message = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_uri(buf.getvalue())}},
                {"type": "text", "text": QUESTION},
            ],
        }
    ]
    replies = []
    for folder in (out, merged):  # the adapter on its base, and the merged export: the same greedy answer
        svc = serve.load_service(folder, name="vl")
        try:
            with ServerThread(create_app(svc)) as srv:
                client = OpenAI(base_url=srv.base_url, api_key="unused", timeout=120, max_retries=0)
                r = client.chat.completions.create(model="vl", messages=message, max_tokens=6, temperature=0)
                replies.append((r.choices[0].message.content, r.usage.prompt_tokens))
        finally:
            svc.backend.close()
    assert replies[0] == replies[1]
    assert replies[0][1] == int(_inputs(merged, merged)["input_ids"].shape[1])  # the prompt built by hand


def test_served_export_answers_as_plain_transformers(merged: Path) -> None:
    """The issue's bar: an exported VLM reloads in plain transformers and answers an image request through the
    OpenAI client, the same answer transformers' own `generate` gives."""
    import torch
    from openai import OpenAI
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    from dayzero.sdk import serve
    from dayzero.sdk.serve import ServerThread, create_app
    from dayzero.sdk.serve.images import data_uri

    tok = AutoTokenizer.from_pretrained(str(merged))
    model = AutoModelForImageTextToText.from_pretrained(str(merged), dtype=torch.float32).eval()
    inputs = _inputs(merged, merged)
    stops = [tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False, eos_token_id=stops)
    new = out[0, inputs["input_ids"].shape[1] :].tolist()
    new = new[: min([new.index(s) for s in stops if s in new], default=len(new))]
    expected = tok.decode(new, skip_special_tokens=False)

    buf = io.BytesIO()
    _image().save(buf, format="PNG")
    svc = serve.load_service(merged, name="vl")
    try:
        with ServerThread(create_app(svc)) as srv:
            client = OpenAI(base_url=srv.base_url, api_key="unused", timeout=120, max_retries=0)
            r = client.chat.completions.create(
                model="vl",
                max_tokens=6,
                temperature=0,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": data_uri(buf.getvalue())}},
                            {"type": "text", "text": QUESTION},
                        ],
                    }
                ],
            )
    finally:
        svc.backend.close()
    assert r.choices[0].message.content == expected
