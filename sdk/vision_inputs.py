"""From a rendered prompt and its images to a vision-language model's inputs (ids, pixels, grids, token types).

The chat template writes one placeholder per image (`vision.placeholder`); the model needs the image token in it
repeated once per image feature, the image processor's pixel values, and (M-RoPE models) `mm_token_type_ids`.
Two ways, in this order:

- the release's full processor (`AutoProcessor`), when it loads: it expands exactly as the release does;
- else the family's `vision.expansion` facts with the offline image processor (`AutoImageProcessor`, which picks
  the PIL class when torchvision is absent): a `grid` family repeats the image token
  ``prod(image_grid_thw) / merge_size²`` times per image, as `Qwen2VLProcessor.replace_image_token` does.

Why the fallback exists: the full processors of the Qwen-VL and GLM-4.1V families construct a video processor,
which imports torchvision (`Qwen2VLVideoProcessor requires the Torchvision library`), and torchvision's wheels
are ABI-broken next to torch 2.13 here. A family whose expansion only its processor knows (`fixed` with extra
framing tokens, `processor`, `single`) needs that processor and says so when it does not load.

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
    """Encodes (prompt text, images) for one model directory's processor and the family's vision facts."""

    vision: Vision
    tokenizer: Any
    image_processor: Any
    processor: Any = None  # the release's full processor, when it loads here

    @classmethod
    def load(cls, vision: Vision, model_dir: str | Path, tokenizer: Any) -> VisionEncoder:
        """The processors saved in ``model_dir`` (an export, a run's base or final weights)."""
        from transformers import AutoImageProcessor, AutoProcessor

        processor = None
        try:
            processor = AutoProcessor.from_pretrained(str(model_dir))
        except (ImportError, OSError, ValueError, TypeError, AttributeError, KeyError):
            processor = None  # e.g. a video processor that needs torchvision: expand from the facts instead
        if processor is not None and getattr(processor, "image_processor", None) is None:
            processor = None  # AutoProcessor fell back to the tokenizer alone
        try:
            image_processor = (
                processor.image_processor
                if processor is not None
                else AutoImageProcessor.from_pretrained(str(model_dir))
            )
        except (OSError, ValueError) as exc:
            raise NotSupportedError(
                f"no image processor in {model_dir} ({exc})",
                where=Where(file=str(Path(model_dir) / "preprocessor_config.json")),
                hint="a vision-language model directory needs preprocessor_config.json (dayzero's export writes it)",
            ) from None
        return cls(vision=vision, tokenizer=tokenizer, image_processor=image_processor, processor=processor)

    @property
    def processor_name(self) -> str:
        """What does the expansion, for reports: the full processor's class, or `<image processor> + facts`."""
        if self.processor is not None:
            return type(self.processor).__name__
        return f"{type(self.image_processor).__name__} + vision.expansion"

    def count_placeholders(self, text: str) -> int:
        return text.count(self.vision.image_token)

    def encode(self, text: str, images: list[Any]) -> dict[str, Any]:
        """Batch-of-one tensors for ``model(**inputs)`` / ``generate``: input_ids, attention_mask, pixel values and
        whatever the processor adds (image_grid_thw, ...), and mm_token_type_ids where the family needs them."""
        import torch

        found = self.count_placeholders(text)
        if found != len(images):
            raise ImageCountError(f"the prompt has {found} image placeholder(s) for {len(images)} image(s)")
        if not images:
            enc = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")
            return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if self.processor is not None:
            out = dict(
                self.processor(
                    text=[text], images=list(images), return_tensors="pt", add_special_tokens=False
                )
            )
        else:
            out = self._expand(text, images)
        if self.vision.mm_token_type_ids and "mm_token_type_ids" not in out:
            image_id = self.tokenizer.convert_tokens_to_ids(self.vision.image_token)
            out["mm_token_type_ids"] = (out["input_ids"] == image_id).to(torch.long)
        if not self.vision.mm_token_type_ids:
            out.pop("mm_token_type_ids", None)
        return out

    def _expand(self, text: str, images: list[Any]) -> dict[str, Any]:
        exp = self.vision.expansion
        kind = str(getattr(exp.kind, "value", exp.kind))
        if kind != "grid":
            raise NotSupportedError(
                f"expanding `{kind}` image tokens needs the family's full processor "
                f"({self.vision.processor.processor_class}), which did not load here",
                where=Where(field="vision.expansion.kind"),
                hint="install the processor's dependencies (torchvision for some), or use a grid family",
            )
        pixels = dict(self.image_processor(images=list(images), return_tensors="pt"))
        merge = int(getattr(self.image_processor, "merge_size", None) or exp.merge_size or 1)
        counts = [int(grid.prod()) // merge**2 for grid in pixels["image_grid_thw"]]
        token = self.vision.image_token
        pieces = text.split(token)
        expanded = pieces[0] + "".join(token * n + rest for n, rest in zip(counts, pieces[1:], strict=True))
        enc = self.tokenizer(expanded, add_special_tokens=False, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], **pixels}
