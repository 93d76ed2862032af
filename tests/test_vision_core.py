"""Vision-language core: the `vision:` facts, image loading, tiny VLMs and LM-only LoRA targets."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.errors import DataError
from dayzero.sdk.images import ImageError, ImageLimits, image_ref, load_image

REG = registry.load()
VLM_FAMILIES = sorted(f for f, fam in REG.families.items() if fam.vision is not None)


def _png(width: int, height: int, colour: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


# ---- image loading -------------------------------------------------------------------------------


def test_local_path_relative_to_base_dir_and_data_uri_give_the_same_pixels(tmp_path: Path) -> None:
    data = _png(7, 5, (1, 2, 3))
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(data)
    from_path = load_image("img/a.png", base_dir=tmp_path)
    from_uri = load_image({"type": "image_url", "image_url": {"url": _data_uri(data)}})
    assert from_path.size == from_uri.size == (7, 5)
    assert from_path.getpixel((0, 0)) == from_uri.getpixel((6, 4)) == (1, 2, 3)
    assert from_path.mode == "RGB"


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "u"}},
        {"type": "image_url", "image_url": "u"},
        {"type": "image", "image": "u"},
        {"type": "image", "url": "u"},
        {"type": "image", "path": "u"},
        "u",
    ],
)
def test_image_ref_reads_every_part_shape(part: object) -> None:
    assert image_ref(part) == "u"


def test_url_is_refused_offline_with_a_clear_error() -> None:
    with pytest.raises(
        ImageError, match=r"image URL 'https://example.com/cat.png' refused: .*offline"
    ) as info:
        load_image({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}})
    assert info.value.reason == "image_url"
    assert isinstance(info.value, DataError)
    with pytest.raises(ImageError, match="not implemented"):  # allowed, but dayzero fetches nothing itself
        load_image("http://example.com/cat.png", allow_urls=True)


@pytest.mark.parametrize(
    ("ref", "reason", "words"),
    [
        ("missing.png", "image_missing", "does not exist"),
        ("data:image/png;base64,@@@", "image_decode", "not valid base64"),
        ("data:image/png,plain", "image_decode", "must be `data:image/<type>;base64,<data>`"),
        (_data_uri(b"not an image at all"), "image_decode", "not a readable image"),
        ({"type": "image"}, "image_missing", "names no image"),
        ("  ", "image_missing", "empty"),
    ],
)
def test_bad_images_name_the_reason(tmp_path: Path, ref: object, reason: str, words: str) -> None:
    with pytest.raises(ImageError, match=re.escape(words)) as info:
        load_image(ref, base_dir=tmp_path)
    assert info.value.reason == reason


def test_size_bounds_are_checked_before_decoding(tmp_path: Path) -> None:
    limits = ImageLimits(max_bytes=10_000, max_pixels=100, max_side=50)
    with pytest.raises(ImageError, match=r"11x10 = 110 pixels, over 100"):
        load_image(_data_uri(_png(11, 10)), limits=limits)
    with pytest.raises(ImageError, match=r"1x60; each side must be 1..50"):
        load_image(_data_uri(_png(1, 60)), limits=limits)
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * 10_001)
    with pytest.raises(ImageError, match="10001 bytes, over 10000"):
        load_image(str(big), limits=limits)


# ---- registry facts ------------------------------------------------------------------------------


def test_qwen2_vl_resolves_from_its_hub_ids() -> None:
    for hub_id in ("Qwen/Qwen2-VL-7B-Instruct", "Qwen/Qwen2-VL-2B-Instruct", "qwen/qwen2-vl-72b-instruct"):
        res = registry.resolve(hub_id)
        assert res.family.id == "qwen2-vl"
        assert res.family.modality == "vision"
    assert registry.get("qwen2").modality == "text"


@pytest.mark.parametrize("family_id", VLM_FAMILIES)
def test_vision_tokens_are_single_special_tokens_of_the_tiny_tokenizer(family_id: str) -> None:
    from dayzero.sdk.tiny import tiny_tokenizer

    family = REG.families[family_id]
    tok = tiny_tokenizer(family)
    assert family.vision is not None
    for token in family.vision.tokens():
        assert len(tok.encode(token, add_special_tokens=False)) == 1, token


def test_a_vision_token_missing_from_the_tokenizer_is_a_schema_error() -> None:
    from pydantic import ValidationError

    from dayzero.registry.schema import Family

    raw = REG.families["qwen2-vl"].model_dump(by_alias=True)
    raw["tokenizer"]["special"] = [t for t in raw["tokenizer"]["special"] if t != "<|image_pad|>"]
    with pytest.raises(
        ValidationError, match=r"vision tokens \['<\|image_pad\|>'\] must be listed under `tokenizer.special`"
    ):
        Family.model_validate(raw)


# ---- tiny VLMs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family_id", VLM_FAMILIES)
def test_tiny_vlm_config_carries_the_tiny_tokenizer_ids_of_its_vision_tokens(family_id: str) -> None:
    from dayzero.sdk.tiny import tiny_model, tiny_tokenizer

    family = REG.families[family_id]
    tok = tiny_tokenizer(family)
    model = tiny_model(family, tok)
    assert family.vision is not None
    for field, token in family.vision.token_ids.items():
        assert getattr(model.config, field) == tok.convert_tokens_to_ids(token), field
    assert model.config.get_text_config().vocab_size == len(tok)


def test_qwen2_vl_image_expands_to_the_hand_worked_token_count() -> None:
    """100x80 px: Qwen2-VL's smart_resize rounds each side to a multiple of 28 (patch 14 x merge 2): 112x84,
    inside the tiny budget 3136..12544 px; 8x6 patches of 14 px, merged 2x2 -> 12 image tokens."""
    from PIL import Image

    from dayzero.sdk.tiny_vision import image_processor

    family = REG.families["qwen2-vl"]
    out = image_processor(family, tiny=True)(images=[Image.new("RGB", (100, 80))], return_tensors="pt")
    assert out["image_grid_thw"].tolist() == [[1, 6, 8]]
    assert out["pixel_values"].shape == (48, 3 * 2 * 14 * 14)  # 48 patches of 3 channels x 2 frames x 14 x 14


# ---- LoRA restricted to the language model ------------------------------------------------------


def test_language_model_targets_reach_no_vision_module() -> None:
    from peft import LoraConfig, get_peft_model

    from dayzero.sdk.tiny import tiny_model
    from dayzero.sdk.vision_targets import language_model_targets

    family = REG.families["qwen2-vl"]
    names = family.architecture.lora.all_linear
    targets = language_model_targets(family, names)
    assert isinstance(targets, str)
    model = get_peft_model(tiny_model(family), LoraConfig(r=2, target_modules=targets))
    wrapped = {n.removeprefix("base_model.model.") for n, m in model.named_modules() if hasattr(m, "lora_A")}
    # 2 layers x 7 projections, all under model.language_model; none under model.visual
    assert len(wrapped) == 14
    assert all(n.startswith("model.language_model.layers.") for n in wrapped)
    assert language_model_targets(REG.families["qwen2"], names) == names  # text families unchanged


def test_support_matrix_gives_vlm_rows_the_vision_modality_and_a_filter() -> None:
    from dayzero.conformance.matrix import render_matrix

    page = render_matrix(REG, Path(registry.__file__).resolve().parent.parent / "conformance" / "reports")
    row = page.split('<tr id="qwen2-vl"', 1)[1].split("</tr>", 1)[0]
    assert "mod-vision" in row and "<td>vision</td>" in row
    text_row = page.split('<tr id="qwen2"', 1)[1].split("</tr>", 1)[0]
    assert "mod-text" in text_row and "<td>text</td>" in text_row
    assert 'id="f-vision"' in page
