"""The vision half of an export: processor files written beside the weights, and logits checked on an image prompt.

`sdk/exporter.py` exports every family the same way (atomic staging folder, verified logits, manifest); for a
vision-language family (a `vision:` section in its file) it also calls this module, so that

- the export carries what `AutoProcessor` / `AutoImageProcessor` load: `preprocessor_config.json` (the image
  processor, as the Hub releases ship it), `processor_config.json` (the release's processor class), and the
  tokenizer files and `chat_template.jinja` the text export writes anyway;
- the reloaded export answers an image prompt (two synthetic PIL images in the probe conversation, rendered by
  the saved chat template, expanded with the saved image processor as training expands them) with the logits
  of the model it was made from (the peft model before merging, or the trained full weights) within the
  export's tolerance;
- the manifest records which processor classes load the export here (`vision.processor`): without torchvision
  `AutoProcessor` cannot build Qwen2-VL's processor (it constructs a video processor, which imports
  torchvision) and `AutoImageProcessor` gives `Qwen2VLImageProcessorPil`; dayzero itself always uses the
  family's `vision.processor.image_processor_class` with its expansion facts (`sdk.vision_inputs`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dayzero.atomic import atomic_write_text
from dayzero.errors import ExportError, Where

if TYPE_CHECKING:
    from dayzero.registry.schema import Family, Vision

    from .vision_inputs import VisionEncoder

PROBE_QUESTION = "What is in this picture?"
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


def probe_images() -> list[Any]:
    """Two small synthetic RGB images (a gradient and a two-colour split), made with PIL: no file, no download.

    Sizes differ (56x84, 84x56), so a grid family's two images expand to different token counts.
    """
    from PIL import Image

    gradient = Image.new("RGB", (56, 84))
    gradient.putdata([(x * 4, y * 3, 128) for y in range(84) for x in range(56)])
    split = Image.new("RGB", (84, 56), (220, 40, 40))
    split.paste((40, 40, 220), (42, 0, 84, 56))
    return [gradient, split]


def probe_conversation(vision: Vision, images: int) -> list[dict[str, Any]]:
    """A user turn with ``images`` images and a question, each image as the family's placeholder where its part
    stood (how training renders image parts, `sdk/templates/vision.py`): the template renders plain text."""
    return [{"role": "user", "content": vision.placeholder * images + PROBE_QUESTION}]


def processor_source(*dirs: Path) -> Path:
    """The first folder holding a saved processor (the run's final/ weights, else the base it trained from)."""
    for d in dirs:
        if any((d / name).is_file() for name in PROCESSOR_FILES):
            return d
    raise ExportError(
        "the run saved no image processor (no preprocessor_config.json in final/ or the base model)",
        where=Where(file=str(dirs[0])),
        hint="a vision-language base model directory ships preprocessor_config.json; copy it into the base",
    )


@dataclass
class VisionProbe:
    """The image prompt an export is checked on, encoded by the processor of the model it is made from."""

    vision: Vision
    encoder: VisionEncoder
    source: Path
    inputs: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def for_family(cls, family: Family, tokenizer: Any, *dirs: Path) -> VisionProbe | None:
        """The probe of a vision-language family (`vision:` in its file); None for a text family."""
        return cls.prepare(family.vision, tokenizer, *dirs) if family.vision is not None else None

    @classmethod
    def prepare(cls, vision: Vision, tokenizer: Any, *dirs: Path) -> VisionProbe:
        from .vision_inputs import VisionEncoder

        source = processor_source(*dirs)
        encoder = VisionEncoder.load(vision, source, tokenizer, config_dir=_config_dir(source, *dirs))
        probe = cls(vision=vision, encoder=encoder, source=source)
        probe.text, probe.inputs = probe.encode(encoder, tokenizer)
        return probe

    @property
    def images(self) -> list[Any]:
        return probe_images()[: 2 if self.vision.multi_image else 1]

    def encode(self, encoder: VisionEncoder, tokenizer: Any) -> tuple[str, dict[str, Any]]:
        """The probe rendered by ``tokenizer``'s chat template and encoded by ``encoder``."""
        images = self.images
        try:
            text = tokenizer.apply_chat_template(
                probe_conversation(self.vision, len(images)), tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # a template error of any kind: the export cannot be checked on an image
            raise ExportError(f"the chat template cannot render an image conversation: {exc}") from None
        try:
            return text, encoder.encode(text, images)
        except ValueError as exc:
            raise ExportError(
                f"the image probe does not encode: {exc}",
                hint="the chat template must write `vision.placeholder` once per image part",
            ) from None

    def logits(self, model: Any, inputs: dict[str, Any] | None = None) -> Any:
        import torch

        from .vision_inputs import forward_inputs

        inputs = forward_inputs(model, inputs if inputs is not None else self.inputs)
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model(**{k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()})
        model.train(was_training)
        return out.logits.float().cpu()

    def save(self, tmp: Path, tokenizer: Any) -> dict[str, Any]:
        """Write the processor files into the staging folder ``tmp``; returns what the manifest records of them.

        `preprocessor_config.json` is the image processor (the Hub releases' layout, which both the PIL and the
        torchvision class read); `processor_config.json` names the release's processor class, whose other
        sub-processors (a video processor) fall back to the same file; the chat template and tokenizer files
        are the text export's.
        """
        self.encoder.image_processor.save_pretrained(str(tmp))
        record = {"processor_class": self.vision.processor.processor_class}
        released = self.source / "processor_config.json"
        if (
            released.is_file()
        ):  # a release's own (its processor's arguments: patch size, image token...): kept
            record = {**json.loads(released.read_text(encoding="utf-8")), **record}
        atomic_write_text(tmp / "processor_config.json", json.dumps(record, indent=2) + "\n")
        return {"processor_source": str(self.source.resolve())}

    def check(self, reloaded: Any, reference: Any, tmp: Path, tolerance: float) -> dict[str, Any]:
        """The export's own processor and template (reloaded from ``tmp``) on the probe, against ``reference``."""
        from transformers import AutoTokenizer

        from .vision_inputs import VisionEncoder

        tokenizer = AutoTokenizer.from_pretrained(str(tmp))
        encoder = VisionEncoder.load(self.vision, tmp, tokenizer)
        text, inputs = self.encode(encoder, tokenizer)
        if text != self.text or not _same_ids(inputs["input_ids"], self.inputs["input_ids"]):
            raise ExportError(
                "the export's processor or chat template encodes the image probe differently from the run's",
                hint="compare preprocessor_config.json with the base model's",
            )
        diff = float((self.logits(reloaded, inputs) - reference).abs().max())
        if not diff <= tolerance:
            raise ExportError(
                f"on the image probe the export's logits differ from the trained model's by {diff:.3g} "
                f"(tolerance {tolerance:g})",
                hint="the merge is wrong for this architecture; export the adapter alone (`--adapter-only`)",
            )
        return {
            "image_probe_max_logit_diff": diff,
            "image_probe_tokens": int(inputs["input_ids"].shape[-1]),
            "image_tokens": int(
                (inputs["input_ids"] == tokenizer.convert_tokens_to_ids(self.vision.image_token)).sum()
            ),
            "processor": loaders(tmp, self),
        }

    def check_trained(self, reloaded: Any, probe_file: Path, tolerance: float) -> float | None:
        """The export against the trained model as it was in memory at the end of training (the image probe the
        run stored beside its weights, `trained_image_tensors`); None when the run stored none."""
        if not probe_file.is_file():
            return None
        from safetensors.torch import load_file

        stored = {
            k[len(IMAGE_PREFIX) :]: v
            for k, v in load_file(str(probe_file)).items()
            if k.startswith(IMAGE_PREFIX)
        }
        if "logits" not in stored:
            return None
        logits = stored.pop("logits")
        diff = float((self.logits(reloaded, stored) - logits).abs().max())
        if not diff <= tolerance:
            raise ExportError(
                f"on the image probe the export differs from the trained model by {diff:.3g} (tolerance {tolerance:g})",
                hint="the vision tower or projector did not save as trained; export with --adapter-only",
            )
        return diff


IMAGE_PREFIX = "image."  # the image probe's tensors in the run's probe file


def trained_image_tensors(vision: Vision, model: Any, tokenizer: Any) -> dict[str, Any]:
    """The image probe's inputs and the trained model's logits on them, for the run's probe file (empty when the
    base the tokenizer came from has no image processor: the export then says so)."""
    try:
        probe = VisionProbe.prepare(vision, tokenizer, Path(tokenizer.name_or_path))
    except ExportError:
        return {}
    out = {IMAGE_PREFIX + k: v.contiguous() for k, v in probe.inputs.items() if hasattr(v, "contiguous")}
    out[IMAGE_PREFIX + "logits"] = probe.logits(model).contiguous()
    return out


def _config_dir(*dirs: Path) -> Path:
    """The first folder with a config.json (a LoRA run's final/ has none: its base has)."""
    return next((d for d in dirs if (d / "config.json").is_file()), dirs[0])


def _same_ids(a: Any, b: Any) -> bool:
    return a.shape == b.shape and bool((a == b).all())


def loaders(folder: Path, probe: VisionProbe | None = None) -> dict[str, Any]:
    """Which transformers classes load the processor files in ``folder`` here, why the full processor does not,
    and (when it loads and a ``probe`` is given) whether it encodes the image probe with dayzero's token ids."""
    from transformers import AutoImageProcessor, AutoProcessor

    found: dict[str, Any] = {"auto_processor": None, "auto_processor_error": None}
    try:
        processor = AutoProcessor.from_pretrained(str(folder))
        found["auto_processor"] = type(processor).__name__
    except Exception as exc:  # ImportError (torchvision) most often; recorded, not raised
        found["auto_processor_error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        processor = None
    found["auto_image_processor"] = type(AutoImageProcessor.from_pretrained(str(folder))).__name__
    if processor is not None and probe is not None:
        try:
            ids = processor(text=[probe.text], images=probe.images, return_tensors="pt")["input_ids"]
            found["auto_processor_matches"] = _same_ids(ids, probe.inputs["input_ids"])
        except Exception as exc:  # its own expansion failed on the probe: recorded
            found["auto_processor_matches"] = False
            found["auto_processor_error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return found


def save_adapter_processor(vision: Vision, tokenizer: Any, tmp: Path, *dirs: Path) -> dict[str, Any]:
    """An adapter-only export of a vision-language run carries the processor files too (served from it)."""
    from .vision_inputs import VisionEncoder

    source = processor_source(*dirs)
    encoder = VisionEncoder.load(vision, source, tokenizer, config_dir=_config_dir(source, *dirs))
    probe = VisionProbe(vision=vision, encoder=encoder, source=source)
    record = probe.save(tmp, tokenizer)
    return {**record, "processor": loaders(tmp)}
