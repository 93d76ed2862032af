"""Images in conversations: where the image tokens go, and that they are never trained.

The chat template writes one `vision.placeholder` per image where the image part stood (Qwen2-VL:
``<|vision_start|><|image_pad|><|vision_end|>``); the processor then turns each placeholder into
`vision.expanded` with the image token repeated once per feature the vision tower yields. dayzero does the
same in two steps, with the family's data only:

1. ``flatten``: OpenAI / TRL image parts (``{"type": "image_url"}``, ``{"type": "image"}``) and
   LLaMA-Factory's ``<image>`` markers become the placeholder text inside the message content, and the
   image references are collected in order. The text renderer (format or official template) then renders
   that content as it renders any text, which equals the official template's render of the image parts
   for templates that write parts inline (tested per family against the reference templates).
2. ``encode``: the rendered segments are expanded placeholder by placeholder (each image its own count),
   tokenized, and labelled: image tokens, and every vision token, are -100 whatever the turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dayzero.errors import NotSupportedError, TemplateError, Where

from .encode import encode_text, select_trained, trained_ranges
from .types import IGNORE_INDEX, Encoded, Segment, normalize

if TYPE_CHECKING:
    from dayzero.registry.schema import Vision

__all__ = [
    "IMAGE_CASES",
    "MARKER",
    "encode_with_images",
    "flatten",
    "image_token_count",
    "mm_token_type_ids",
    "parts_messages",
]

MARKER = "<image>"
"""LLaMA-Factory's image marker in text content (its `images` column holds the images, in order)."""

_IMAGE_TYPES = ("image", "image_url", "input_image")


def _is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and (
        part.get("type") in _IMAGE_TYPES or (not part.get("type") and "image" in part)
    )


def flatten(
    messages: list[dict[str, Any]], vision: Vision, images: list[Any] | None = None
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Messages with string content (each image as the family's placeholder) and the images in order.

    Image parts contribute their reference (path, data URI, part) to the list; ``<image>`` markers in text
    take the next entry of ``images`` (LLaMA-Factory's column). A marker without an image, or an image
    without a marker, is an error naming the counts.
    """
    column = list(images or [])
    refs: list[Any] = []
    out: list[dict[str, Any]] = []
    used = 0

    def from_text(text: str, i: int) -> str:
        # `<image>` markers take the next images of the column; the family's placeholder may itself be `<image>`
        nonlocal used
        markers = text.count(MARKER)
        if not markers:
            return text
        if used + markers > len(column):
            raise TemplateError(
                f"{used + markers} `<image>` markers up to message {i} but {len(column)} images in the row",
                where=Where(field=f"messages[{i}].content"),
            )
        refs.extend(column[used : used + markers])
        used += markers
        return text.replace(MARKER, vision.placeholder)

    for i, message in enumerate(messages):
        content = message.get("content")
        pieces: list[str] = []
        if isinstance(content, list):
            for part in content:
                if _is_image_part(part):
                    refs.append(part)
                    pieces.append(vision.placeholder)
                elif (
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    pieces.append(from_text(part["text"], i))
                else:
                    kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                    raise TemplateError(
                        f"unsupported content part {kind!r}", where=Where(field=f"messages[{i}].content")
                    )
        elif isinstance(content, str):
            pieces.append(from_text(content, i))
        out.append({**message, "content": "".join(pieces)})
    if used < len(column):
        raise TemplateError(
            f"{len(column)} images but {used} `<image>` markers in the messages", where=Where(field="images")
        )
    if refs and not vision.multi_image and len(refs) > 1:
        raise NotSupportedError(
            f"{len(refs)} images in one conversation: this family takes one image per conversation"
        )
    return out, refs


def parts_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same conversation with every content as a list of typed parts (how official VLM templates read it)."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        out.append({**message, "content": content})
    return out


def image_token_count(vision: Vision, processed: dict[str, Any], index: int, config: Any = None) -> int:
    """Tokens image ``index`` expands to, from the image processor's output (`vision.expansion`).

    ``config``: the model's config (a dict or object), where `expansion.tokens_field` is read for fixed counts.
    """
    if vision.unbuilt_inputs:
        raise NotSupportedError(
            f"training on images needs {', '.join(vision.unbuilt_inputs)}, which only the family's full processor "
            "builds; dayzero's image rows do not yet",
            where=Where(field="vision.unbuilt_inputs"),
        )
    exp = vision.expansion
    if exp.kind == "grid":
        grid = processed["image_grid_thw"][index]
        t, h, w = (int(x) for x in grid)
        assert exp.merge_size is not None  # the schema requires it for grid
        return t * h * w // (exp.merge_size**2)
    if exp.kind == "fixed":
        if exp.tokens_field and config is not None:
            value = (
                config.get(exp.tokens_field)
                if isinstance(config, dict)
                else getattr(config, exp.tokens_field, None)
            )
            if value is not None:
                return int(value)
        assert exp.tokens_per_image is not None
        return exp.tokens_per_image
    if exp.kind == "single":
        return 1
    raise NotSupportedError(
        "image-token counts decided by the image processor's tiling (expansion kind `processor`) are not computed "
        "by dayzero yet",
        where=Where(field="vision.expansion.kind"),
    )


def encode_with_images(
    template: Any,
    messages: list[dict[str, Any]],
    tokenizer: Any,
    vision: Vision,
    counts: list[int],
    *,
    tools: list[dict[str, Any]] | None = None,
    thinking: str | None = None,
    train_on_prompt: bool = False,
    mask_history: bool = False,
) -> Encoded:
    """``template.encode`` for flattened messages whose placeholders expand to ``counts[i]`` image tokens each."""
    segs = template.segments(messages, tools=tools, thinking=thinking)
    untrained = frozenset(m.index for m in normalize(messages) if not m.train)
    flags = select_trained(
        segs, train_on_prompt=train_on_prompt, mask_history=mask_history, untrained_messages=untrained
    )
    remaining = list(counts)
    expanded: list[Segment] = []
    for seg in segs:
        text = seg.text
        if vision.placeholder in text:
            parts = text.split(vision.placeholder)
            if len(parts) - 1 > len(remaining):
                raise TemplateError(
                    f"more image placeholders in the render than the {len(counts)} images given"
                )
            pieces = [parts[0]]
            for rest in parts[1:]:
                n = remaining.pop(0)
                pieces.append(vision.expanded.replace("{image}", vision.image_token * n))
                pieces.append(rest)
            text = "".join(pieces)
        expanded.append(
            Segment(text=text, role=seg.role, message_index=seg.message_index, trained=seg.trained)
        )
    if remaining:
        raise TemplateError(f"{len(remaining)} of {len(counts)} images have no placeholder in the render")
    text = "".join(s.text for s in expanded)
    for message in messages:  # a template that reads content only as typed parts renders strings as nothing
        content = message.get("content")
        if (
            isinstance(content, str)
            and content.strip()
            and content.strip().split(vision.placeholder)[-1].strip() not in text
        ):
            raise TemplateError(
                f"the chat template dropped a {message.get('role')} message's text: it reads content only as typed "
                "parts (Idefics3's and LLaVA-NeXT's do)",
                hint="train with the family's format (ChatTemplate.for_view)",
            )
    encoded = encode_text(text, trained_ranges(expanded, flags), tokenizer)
    never = {tokenizer.convert_tokens_to_ids(t) for t in vision.tokens()}
    labels = [
        IGNORE_INDEX if tok in never else lab
        for tok, lab in zip(encoded.input_ids, encoded.labels, strict=True)
    ]
    image_id = tokenizer.convert_tokens_to_ids(vision.image_token)
    found = sum(1 for t in encoded.input_ids if t == image_id)
    if found != sum(counts):
        raise TemplateError(
            f"{found} image tokens after tokenizing, expected {sum(counts)}: the tokenizer splits "
            f"{vision.image_token!r} or the text holds it literally"
        )
    return Encoded(input_ids=encoded.input_ids, labels=labels, text=text)


def mm_token_type_ids(input_ids: list[int], tokenizer: Any, vision: Vision) -> list[int]:
    """transformers' modality ids per token: 0 text, 1 image, 2 video (`ProcessorMixin.create_mm_token_type_ids`)."""
    image = tokenizer.convert_tokens_to_ids(vision.image_token)
    video = tokenizer.convert_tokens_to_ids(vision.video_token) if vision.video_token else None
    return [1 if t == image else 2 if video is not None and t == video else 0 for t in input_ids]


def _img() -> dict[str, Any]:
    return {"type": "image"}


def _txt(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


IMAGE_CASES: dict[str, list[dict[str, Any]]] = {
    "image_first": [
        {"role": "user", "content": [_img(), _txt("What is in the picture?")]},
        {"role": "assistant", "content": [_txt("A red square.")]},
    ],
    "text_first": [
        {"role": "user", "content": [_txt("Describe this:"), _img()]},
        {"role": "assistant", "content": [_txt("It is blue.")]},
    ],
    "two_images": [
        {"role": "user", "content": [_img(), _img(), _txt("Compare them.")]},
        {"role": "assistant", "content": [_txt("Both are squares.")]},
    ],
    "multi_turn": [
        {"role": "user", "content": [_img(), _txt("Colour?")]},
        {"role": "assistant", "content": [_txt("Green.")]},
        {"role": "user", "content": [_txt("And the shape?")]},
        {"role": "assistant", "content": [_txt("A square.")]},
    ],
    "system": [
        {"role": "system", "content": [_txt("You describe pictures.")]},
        {"role": "user", "content": [_img(), _txt("What do you see?")]},
        {"role": "assistant", "content": [_txt("A yellow square.")]},
    ],
}
"""Conversations with images (content as typed parts, as official VLM templates read them), for the placement
parity of `template.image-placement` and the tests; `vision.deviations` names cases an official template renders
otherwise on purpose."""
