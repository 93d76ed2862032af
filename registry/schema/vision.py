"""What a vision-language family adds to a text family: the processor facts a trainer and a server need.

A VLM's chat template writes one *placeholder* per image (``<|vision_start|><|image_pad|><|vision_end|>``
for Qwen2-VL, ``<start_of_image>`` for Gemma 3); the processor then expands the image token inside it into
as many copies as the vision tower yields features for that image. How many is a fact of the family
(``expansion``): a grid of patches merged ``merge_size``² at a time (Qwen-VL, GLM-4.1V), a fixed count
per image (Gemma 3, LLaVA-1.5), or one token the model cross-attends from (Llama 3.2 Vision). Everything
else here is what the training code and the vLLM command read instead of branching on a family id.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field, model_validator

from .common import ModulePath, Strict
from .template import Deviation


class ExpansionKind(str, Enum):
    grid = "grid"  # patches of patch_size² pixels, merged merge_size² at a time (Qwen2-VL and kin)
    fixed = "fixed"  # the same number of tokens for every image (Gemma 3: 256, LLaVA-1.5: 576)
    single = "single"  # one token per image; the model cross-attends to the image (mllama)
    processor = "processor"  # tiles decided by the image processor (Idefics3, LLaVA-NeXT, InternVL)


class Expansion(Strict):
    """How many image tokens one image becomes, and the image processor's size defaults."""

    kind: ExpansionKind
    patch_size: int | None = Field(default=None, ge=1, description="Pixels per patch side (grid).")
    merge_size: int | None = Field(
        default=None,
        ge=1,
        description="Patches merged per side into one token (grid: tokens = patches / merge²).",
    )
    temporal_patch_size: int | None = Field(
        default=None,
        ge=1,
        description="Frames per temporal patch (grid; a still image is repeated to fill it).",
    )
    tokens_per_image: int | None = Field(
        default=None, ge=1, description="Tokens per image of the release (fixed)."
    )
    tokens_field: str | None = Field(
        default=None,
        description="config.json field that holds the tokens per image (fixed; Gemma 3 `mm_tokens_per_image`, LLaVA "
        "`image_seq_length`): read from the model's own config, so a tiny instance counts its own.",
    )
    image_size: int | None = Field(
        default=None, ge=1, description="Side an image is resized to (fixed, processor)."
    )
    min_pixels: int | None = Field(
        default=None, ge=1, description="Pixel budget floor of the processor (grid)."
    )
    max_pixels: int | None = Field(
        default=None, ge=1, description="Pixel budget ceiling of the processor (grid)."
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Expansion:
        need = {
            ExpansionKind.grid.value: ("patch_size", "merge_size", "min_pixels", "max_pixels"),
            ExpansionKind.fixed.value: ("tokens_per_image",),
        }.get(self.kind, ())
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"expansion kind {self.kind!r} needs {', '.join(missing)}")
        return self


class VisionModules(Strict):
    """Module prefixes inside the transformers class (``model.language_model`` in transformers 5)."""

    vision_tower: ModulePath = Field(description="The vision encoder, e.g. `model.visual`.")
    projector: ModulePath = Field(description="Vision -> text projector, e.g. `model.visual.merger`.")
    language_model: ModulePath = Field(description="The text decoder, e.g. `model.language_model`.")


class VisionProcessor(Strict):
    """Which processor classes to use. The full processors of several families import torchvision (whose
    wheels are ABI-broken next to torch 2.13) or a video processor; the PIL image processors work offline."""

    processor_class: str = Field(
        description="transformers processor class of the release, e.g. `Qwen2VLProcessor`."
    )
    image_processor_class: str = Field(
        description="Image processor that works without torchvision, e.g. `Qwen2VLImageProcessorPil`."
    )
    auto_class: str = Field(
        default="AutoModelForImageTextToText",
        description="transformers auto class that loads the checkpoint.",
    )


class VisionServing(Strict):
    limit_mm_per_prompt: dict[str, int] = Field(
        default_factory=lambda: {"image": 1},
        description="vLLM `--limit-mm-per-prompt` (modality -> most items per prompt); vLLM's default is 1 image.",
    )


class Vision(Strict):
    """Facts of a vision-language family (absent on text-only families)."""

    placeholder: str = Field(
        description="What the chat template writes for one image, e.g. `<|vision_start|><|image_pad|><|vision_end|>`."
    )
    image_token: str = Field(
        description="The token the processor repeats once per image feature, e.g. `<|image_pad|>`."
    )
    expanded: str = Field(
        default="{image}",
        description="What the processor turns one `placeholder` into; `{image}` stands for `image_token` repeated "
        "once per feature (Qwen2-VL: `<|vision_start|>{image}<|vision_end|>`; Gemma 3 adds blank lines and "
        "`<start_of_image>` / `<end_of_image>` around it).",
    )
    video_placeholder: str | None = Field(default=None, description="What the template writes for one video.")
    video_token: str | None = Field(default=None, description="Video counterpart of `image_token`, if any.")
    start_token: str | None = Field(
        default=None, description="Token opening an image span (`<|vision_start|>`)."
    )
    end_token: str | None = Field(default=None, description="Token closing an image span (`<|vision_end|>`).")
    token_ids: dict[str, str] = Field(
        default_factory=dict,
        description="config field -> token, set from the tokenizer on tiny instances (`image_token_id: <|image_pad|>`).",
    )
    expansion: Expansion
    tiny_processor: dict[str, int] = Field(
        default_factory=dict,
        description="Image-processor overrides for tiny instances (a small pixel budget keeps tests fast).",
    )
    mm_token_type_ids: bool = Field(
        default=False,
        description="Whether forward needs `mm_token_type_ids` (0 text, 1 image, 2 video): M-RoPE models in transformers 5.",
    )
    token_type_ids: bool = Field(
        default=False,
        description="Whether forward takes `token_type_ids` marking image tokens 1 (Gemma 3: bidirectional attention "
        "over an image's tokens while training).",
    )
    multi_image: bool = Field(default=True, description="Whether one conversation may hold several images.")
    video: bool = Field(default=False, description="Whether the family takes video input.")
    modules: VisionModules
    freeze_vision: bool = Field(
        default=True, description="Freeze the vision tower by default (LLaMA-Factory's default)."
    )
    freeze_projector: bool = Field(
        default=True,
        description="Freeze the projector by default (LLaMA-Factory's default); recipes may train it.",
    )
    lora_language_model_only: bool = Field(
        default=True,
        description="LoRA presets apply under `modules.language_model` only: peft's suffix match (and `all-linear`) "
        "also hits the vision tower (10 of 24 modules on qwen2_vl, 61 of 75 on mllama).",
    )
    unbuilt_inputs: list[str] = Field(
        default_factory=list,
        description="Forward inputs only the family's full processor builds and dayzero's image rows do not "
        "(mllama: `cross_attention_mask`): image SFT is refused, naming them, while this is not empty.",
    )
    deviations: list[Deviation] = Field(
        default_factory=list,
        description="Image-battery cases (`dayzero.sdk.templates.vision.IMAGE_CASES`) where the official template "
        "deliberately renders otherwise than the family's format with placeholders.",
    )
    processor: VisionProcessor
    serving: VisionServing = Field(default_factory=VisionServing)

    @model_validator(mode="after")
    def _expansion_has_its_slot(self) -> Vision:
        if "{image}" not in self.expanded:
            raise ValueError(f"`expanded` must contain the `{{image}}` slot, got {self.expanded!r}")
        if self.video and (self.video_token is None or self.video_placeholder is None):
            raise ValueError("`video: true` needs `video_token` and `video_placeholder`")
        return self

    def tokens(self) -> list[str]:
        """Every special token the vision facts name (each must be a special token of the tokenizer)."""
        seen = [
            self.image_token,
            self.video_token,
            self.start_token,
            self.end_token,
            *self.token_ids.values(),
        ]
        return list(dict.fromkeys(t for t in seen if t))
