"""From a rendered prompt and its images to a vision-language model's inputs (ids, pixels, grids, token types).

The chat template writes one placeholder per image (`vision.placeholder`); the model needs it replaced by
`vision.expanded` with the image token repeated once per image feature, the image processor's pixel values,
and (M-RoPE models) `mm_token_type_ids`. This is exactly what training does (`sdk/data/images_rows.py`): the
same image processor class (`vision.processor.image_processor_class`, the PIL one, read from the model
folder's `preprocessor_config.json`), the same per-image count (`sdk.templates.vision.image_token_count`) and
the same modality ids, so a served or exported model sees the token layout it was trained on.

Why not the release's full processor (`AutoProcessor`): Qwen-VL's and GLM-4.1V's construct a video processor,
which imports torchvision (`Qwen2VLVideoProcessor requires the Torchvision library`), and torchvision's wheels
are ABI-broken next to torch 2.13 here; and where it loads, a torchvision image processor resizes slightly
differently from the PIL one training used. The export records which classes load (`sdk/export_vision.py`).

Export (`sdk/export_vision.py`), serving (`sdk/serve`) and the terminal chat use this one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dayzero.errors import NotSupportedError, Where

if TYPE_CHECKING:
    from dayzero.registry.schema import Vision


class ImageCountError(ValueError):
    """The prompt's placeholders and the images given do not pair up."""


@dataclass
class VisionEncoder:
    """Encodes (prompt text, images) with one model folder's image processor and the family's vision facts."""

    vision: Vision
    tokenizer: Any
    image_processor: Any
    config: Any = None  # the model's config: fixed-count families read their tokens per image from it

    @classmethod
    def load(
        cls, vision: Vision, model_dir: str | Path, tokenizer: Any, config_dir: str | Path | None = None
    ) -> VisionEncoder:
        """The image processor saved in ``model_dir`` (an export, a run's base), as the family's class, and the
        model config in ``config_dir`` (default: ``model_dir``; an adapter folder has none of its own)."""
        import transformers

        name = vision.processor.image_processor_class
        processor_cls = getattr(transformers, name, None)
        if processor_cls is None:
            raise NotSupportedError(
                f"transformers {transformers.__version__} has no {name!r}",
                where=Where(field="vision.processor.image_processor_class"),
            )
        try:
            image_processor = processor_cls.from_pretrained(str(model_dir))
        except (OSError, ValueError) as exc:
            raise NotSupportedError(
                f"no image processor in {model_dir} ({exc})",
                where=Where(file=str(Path(model_dir) / "preprocessor_config.json")),
                hint="a vision-language model directory needs preprocessor_config.json (dayzero's export writes it)",
            ) from None
        folder = Path(config_dir or model_dir)
        config = (
            transformers.AutoConfig.from_pretrained(str(folder))
            if (folder / "config.json").is_file()
            else None
        )
        return cls(vision=vision, tokenizer=tokenizer, image_processor=image_processor, config=config)

    def count_placeholders(self, text: str) -> int:
        return text.count(self.vision.placeholder)

    def encode(self, text: str, images: list[Any]) -> dict[str, Any]:
        """Batch-of-one tensors for ``model(**inputs)`` / ``generate``: input_ids, attention_mask, the image
        processor's outputs (pixel_values, image_grid_thw, ...), and mm_token_type_ids where the family needs them."""
        import torch

        from dayzero.sdk.templates.vision import image_token_count, mm_token_type_ids

        found = self.count_placeholders(text)
        if found != len(images):
            raise ImageCountError(f"the prompt has {found} image placeholder(s) for {len(images)} image(s)")
        pixels: dict[str, Any] = {}
        counts: list[int] = []
        if images:
            pixels = dict(self.image_processor(images=list(images), return_tensors="pt"))
            counts = [image_token_count(self.vision, pixels, i, self.config) for i in range(len(images))]
            pieces = text.split(self.vision.placeholder)
            slots = [self.vision.expanded.replace("{image}", self.vision.image_token * n) for n in counts]
            text = pieces[0] + "".join(slot + rest for slot, rest in zip(slots, pieces[1:], strict=True))
        enc = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")
        image_id = self.tokenizer.convert_tokens_to_ids(self.vision.image_token)
        found_tokens = int((enc["input_ids"] == image_id).sum())
        if found_tokens != sum(
            counts
        ):  # the text itself holds the image token: features and tokens would not pair
            raise ImageCountError(
                f"{found_tokens} image tokens after tokenizing, expected {sum(counts)}: the text holds "
                f"{self.vision.image_token!r} literally"
            )
        out = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], **pixels}
        if images and self.vision.mm_token_type_ids:
            ids = enc["input_ids"][0].tolist()
            out["mm_token_type_ids"] = torch.tensor([mm_token_type_ids(ids, self.tokenizer, self.vision)])
        return out


def forward_inputs(model: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` less what the model's forward does not name (Gemma 3's image processor also returns `num_crops`,
    which `generate` refuses as an unused model argument). A peft wrapper is looked through."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = set(inspect.signature(base.forward).parameters)
    return {k: v for k, v in inputs.items() if k in names}
