"""The recipe: one YAML file composed from the topic sections (in the manner of axolotl's schemas/).

Each section lives in its own module; this module only composes them. `dayzero recipe schema` prints
the JSON Schema generated from these models, so the field descriptions are the one documentation.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from dayzero.sdk.data.spec import DataConfig

from .common import Section
from .distributed import DistributedSection
from .export import ExportSection, SampleSection
from .method import MethodSection
from .model import ModelSection
from .rl import RLSection
from .serve import ServeSection
from .train import TrainSection


class Recipe(Section):
    """A fine-tuning recipe: model, data, method, train, export, serve."""

    name: str = Field(default="run", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Run name; names the run dir.")
    description: str | None = Field(default=None, description="One line on what the recipe is for.")
    registry: str | None = Field(
        default=None,
        description="Registry versions this recipe was written for, a PEP 440 specifier such as `>=0.1`; "
        "checked against `dayzero.registry.version` at compile time.",
    )
    model: ModelSection
    data: DataConfig = Field(description="Datasets to train on, how to mix, cut and tokenize them (sdk.data).")
    method: MethodSection = Field(default_factory=MethodSection)
    train: TrainSection = Field(default_factory=TrainSection)
    distributed: DistributedSection = Field(
        default_factory=DistributedSection, description="Processes, machines and sharding (DDP, FSDP2, DeepSpeed)."
    )
    export: ExportSection = Field(default_factory=ExportSection)
    sample: SampleSection = Field(default_factory=SampleSection)
    serve: ServeSection | None = Field(default=None, description="How the export is served; absent: not served.")
    rl: RLSection | None = Field(default=None, description="Rollouts and rewards of the online stage (`grpo`).")

    @field_validator("registry")
    @classmethod
    def _specifier(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"`registry` must be a version specifier such as `>=0.1`, got {value!r}") from None
        return value
