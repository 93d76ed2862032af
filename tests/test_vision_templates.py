"""Image tokens in renders: parity with the official VLM templates and expected renders, expansion, masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.errors import TemplateError
from dayzero.sdk.templates import IGNORE_INDEX, ChatTemplate, render_official
from dayzero.sdk.templates.vision import IMAGE_CASES, encode_with_images, flatten

REG = registry.load()

# family -> the official template under shared/reference its parity is pinned to (the file TRL / llama.cpp copied)
OFFICIAL = {
    "qwen2-vl": "trl/trl/chat_templates/qwen2_5_vl.jinja",
    "qwen2.5-vl": "trl/trl/chat_templates/qwen2_5_vl.jinja",
    "qwen3-vl": "trl/trl/chat_templates/qwen3_vl.jinja",
    "gemma3-vl": "trl/trl/chat_templates/gemma3.jinja",
    "llava-next": "trl/trl/chat_templates/llava_next.jinja",
    "idefics3": "trl/trl/chat_templates/idefics3.jinja",
    "mistral3": "llama.cpp/models/templates/Mistral-Small-3.2-24B-Instruct-2506.jinja",
}


def _official_render(family_id: str, reference_dir: Path, messages: list[dict], **kwargs: object) -> str:
    family = REG.families[family_id]
    source = (reference_dir / OFFICIAL[family_id]).read_text(encoding="utf-8")
    return render_official(
        source,
        messages,
        bos_token=family.tokenizer.bos or "",
        eos_token=family.tokenizer.eos,
        **family.template.official_kwargs,
        **kwargs,
    )


@pytest.mark.reference
@pytest.mark.parametrize("family_id", sorted(OFFICIAL))
@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
def test_placeholders_render_where_the_official_template_puts_images(
    family_id: str, case: str, reference_dir: Path
) -> None:
    family = REG.families[family_id]
    vision = family.vision
    assert vision is not None
    assert family.template.official in (
        OFFICIAL[family_id],
        None,
    )  # None: the template reads typed parts only
    if case == "two_images" and not vision.multi_image:
        pytest.skip(f"{family_id} takes one image per conversation")
    messages = IMAGE_CASES[case]
    flat, refs = flatten(messages, vision)
    assert len(refs) == sum(1 for m in messages for p in m["content"] if p["type"] == "image")
    ours = ChatTemplate.for_family(family).render(flat)
    theirs = _official_render(family_id, reference_dir, messages)
    if case in {d.case for d in vision.deviations}:
        assert ours != theirs, f"{family_id}: deviation {case} is recorded but the renders agree: drop it"
    else:
        assert ours == theirs


@pytest.mark.reference
def test_qwen2_5_vl_matches_the_huggingface_js_expected_render(reference_dir: Path) -> None:
    cases = json.loads((reference_dir / "huggingface.js" / "jinja-e2e-expected.json").read_text())["cases"]
    case = next(c for c in cases if c["name"] == "Qwen/Qwen2.5-VL-7B-Instruct")
    flat, refs = flatten(case["data"]["messages"], REG.families["qwen2.5-vl"].vision)
    ours = ChatTemplate.for_family(REG.families["qwen2.5-vl"]).render(flat, add_generation_prompt=True)
    assert ours == case["target"]
    assert len(refs) == 1


@pytest.mark.reference
def test_llama_3_2_vision_placeholder_matches_the_expected_render(reference_dir: Path) -> None:
    """Meta's template (from huggingface.js's expected renders) writes <|image|> where the image part stands: the
    same template given dayzero's flattened text renders the expected string too."""
    cases = json.loads((reference_dir / "huggingface.js" / "jinja-e2e-expected.json").read_text())["cases"]
    case = next(c for c in cases if c["name"] == "meta-llama/Llama-3.2-11B-Vision-Instruct")
    flat, _ = flatten(case["data"]["messages"], REG.families["mllama"].vision)
    assert flat[0]["content"].startswith("<|image|>If I had to write")
    rendered = render_official(
        case["chat_template"],
        [{"role": "user", "content": [{"type": "text", "text": flat[0]["content"]}]}],
        add_generation_prompt=True,
        bos_token=case["data"]["bos_token"],
    )
    # with the image now inside a text part, the template sees no image and writes its system header: the rest agrees
    assert rendered.endswith(case["target"].removeprefix("<|begin_of_text|>"))


def test_each_placeholder_expands_to_its_own_count_and_no_image_token_is_trained() -> None:
    from dayzero.sdk.tiny import tiny_tokenizer

    family = REG.families["qwen2-vl"]
    vision = family.vision
    tok = tiny_tokenizer(family)
    flat, _ = flatten(IMAGE_CASES["two_images"], vision)
    enc = encode_with_images(ChatTemplate.for_family(family), flat, tok, vision, [2, 5], train_on_prompt=True)
    # hand-worked: the user turn is <|vision_start|> 2 x pad <|vision_end|><|vision_start|> 5 x pad <|vision_end|>Compare them.
    assert (
        "<|vision_start|>"
        + "<|image_pad|>" * 2
        + "<|vision_end|><|vision_start|>"
        + "<|image_pad|>" * 5
        + "<|vision_end|>Compare them."
        in enc.text
    )
    pad = tok.convert_tokens_to_ids("<|image_pad|>")
    assert enc.input_ids.count(pad) == 7
    never = {tok.convert_tokens_to_ids(t) for t in vision.tokens()}
    labelled = [t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE_INDEX]
    assert labelled and not never & set(labelled)  # prompt trained (train_on_prompt), vision tokens never
    assert "Both are squares.<|im_end|>" in tok.decode(labelled)


def test_gemma3_expansion_adds_the_blank_lines_and_image_delimiters_of_its_processor() -> None:
    """Gemma3Processor's `full_image_sequence`: "\\n\\n<start_of_image>" + n x <image_soft_token> + "<end_of_image>\\n\\n"."""
    from dayzero.sdk.tiny import tiny_tokenizer

    family = REG.families["gemma3-vl"]
    flat, _ = flatten(IMAGE_CASES["image_first"], family.vision)
    enc = encode_with_images(
        ChatTemplate.for_family(family), flat, tiny_tokenizer(family), family.vision, [3]
    )
    assert (
        "<start_of_turn>user\n\n\n<start_of_image>"
        + "<image_soft_token>" * 3
        + "<end_of_image>\n\nWhat is in"
        in enc.text
    )


def test_llama_factory_markers_take_the_images_column_in_order() -> None:
    vision = REG.families["qwen2-vl"].vision
    messages = [
        {"role": "user", "content": "<image>first, then <image>"},
        {"role": "assistant", "content": "ok"},
    ]
    with pytest.raises(TemplateError, match=r"2 `<image>` markers up to message 0 but 0 images"):
        flatten(messages, vision)
    with pytest.raises(TemplateError, match=r"2 `<image>` markers up to message 0 but 1 images in the row"):
        flatten(messages, vision, ["a.png"])
    flat, refs = flatten(messages, vision, ["a.png", "b.png"])
    assert refs == ["a.png", "b.png"]
    assert flat[0]["content"] == f"{vision.placeholder}first, then {vision.placeholder}"
    with pytest.raises(TemplateError, match=r"3 images but 2 `<image>` markers"):
        flatten(messages, vision, ["a.png", "b.png", "c.png"])


def test_a_placeholder_that_is_itself_the_marker_is_not_counted_twice() -> None:
    """LLaVA's placeholder is `<image>`, LLaMA-Factory's marker too: an image part must not become a marker."""
    vision = REG.families["llava"].vision
    flat, refs = flatten(IMAGE_CASES["image_first"], vision)
    assert flat[0]["content"] == "<image>What is in the picture?"
    assert len(refs) == 1


def test_one_image_families_refuse_two() -> None:
    from dayzero.errors import NotSupportedError

    with pytest.raises(NotSupportedError, match="one image per conversation"):
        flatten(IMAGE_CASES["two_images"], REG.families["llava"].vision)
