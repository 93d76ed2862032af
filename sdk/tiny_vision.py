"""The vision half of a tiny instance: token ids in the config, and the image processor to save beside it.

Why a module of its own: `sdk/tiny.py` builds every family's tiny instance; a vision-language family adds
two things only, both read from its `vision` section (never from its id): the config fields that hold the
image/video/vision-span token ids (set from the tiny tokenizer, whose ids differ from the release's), and
the image processor (the PIL class the family names, with its `tiny_processor` pixel budget) so a tiny
model directory loads like a release. Heavy imports stay inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dayzero.errors import NotSupportedError, RegistryError, Where

if TYPE_CHECKING:
    from dayzero.registry.schema import Family

__all__ = ["image_processor", "set_vision_token_ids", "text_config"]


def text_config(config: Any) -> Any:
    """The language model's config (the config itself on a text-only model)."""
    getter = getattr(config, "get_text_config", None)
    return getter() if getter is not None else config


def set_vision_token_ids(config: Any, family: Family, tokenizer: Any) -> None:
    """Write the tokenizer's ids of the family's vision tokens into the config (`vision.token_ids`)."""
    if family.vision is None:
        return
    vocab = tokenizer.get_vocab()
    for field, token in family.vision.token_ids.items():
        if token not in vocab:
            raise RegistryError(
                f"vision token {token!r} is not a token of the tokenizer",
                where=Where(field=f"vision.token_ids.{field}"),
                hint="list every vision token under `tokenizer.special`",
            )
        setattr(config, field, vocab[token])


def image_processor(family: Family, *, tiny: bool = False, **overrides: Any) -> Any:
    """An instance of the family's offline image processor (`vision.processor.image_processor_class`).

    ``tiny`` applies the family's `vision.tiny_processor` budget; grid families get the release's pixel
    budget (`vision.expansion.min_pixels` / `max_pixels`) otherwise.
    """
    import transformers

    if family.vision is None:
        raise NotSupportedError(f"family {family.id!r} has no vision section: it takes no images")
    vision = family.vision
    cls = getattr(transformers, vision.processor.image_processor_class, None)
    if cls is None:
        raise NotSupportedError(
            f"transformers {transformers.__version__} has no {vision.processor.image_processor_class!r}",
            where=Where(field="vision.processor.image_processor_class"),
        )
    kwargs: dict[str, Any] = {}
    exp = vision.expansion
    if exp.kind == "grid":
        kwargs.update(
            patch_size=exp.patch_size,
            merge_size=exp.merge_size,
            min_pixels=exp.min_pixels,
            max_pixels=exp.max_pixels,
        )
        if exp.temporal_patch_size:
            kwargs["temporal_patch_size"] = exp.temporal_patch_size
    elif exp.image_size:
        kwargs["image_size"] = exp.image_size
    if tiny:
        kwargs.update(vision.tiny_processor)
    kwargs.update(overrides)
    side = kwargs.pop("image_size", None)
    if side is not None:  # fixed-size processors: resize (and, for CLIP's, centre-crop) to one square side
        kwargs["size"] = {"height": side, "width": side}
        if getattr(cls, "crop_size", None) is not None:
            kwargs["crop_size"] = {"height": side, "width": side}
    if "min_pixels" in kwargs or "max_pixels" in kwargs:  # transformers 5 spells the pixel budget as `size`
        kwargs["size"] = {"shortest_edge": kwargs.pop("min_pixels"), "longest_edge": kwargs.pop("max_pixels")}
    return cls(**kwargs)
