"""Typed schema of the registry (pydantic v2). `Field(description=...)` is the one source of docs."""

from .architecture import Architecture, Attention, LayerKind, LayerKinds, LoraPresets, Mlp, Moe, RemoteCode
from .deploy import Export, LoraServing, Quantization, Requirement, Serving
from .family import Conformance, Family
from .identity import Evidence, Status
from .match import Checkpoint, CheckpointKind, CheckpointOverrides, Match
from .rules import Rule, RulesFile
from .template import (
    Capabilities,
    ChatFormat,
    Deviation,
    FamilyTemplate,
    HistoryThinking,
    Reasoning,
    ReasoningMode,
    SystemSupport,
    ToolCallLayout,
    ToolsLayout,
)
from .tokenizer import PaddingSides, Tokenizer, TokenizerKind
from .vision import Expansion, ExpansionKind, Vision, VisionModules, VisionProcessor, VisionServing

__all__ = [
    "Architecture",
    "Attention",
    "Capabilities",
    "ChatFormat",
    "Checkpoint",
    "CheckpointKind",
    "CheckpointOverrides",
    "Conformance",
    "Deviation",
    "Evidence",
    "Expansion",
    "ExpansionKind",
    "Export",
    "Family",
    "FamilyTemplate",
    "HistoryThinking",
    "LayerKind",
    "LayerKinds",
    "LoraPresets",
    "LoraServing",
    "Match",
    "Mlp",
    "Moe",
    "PaddingSides",
    "Quantization",
    "Reasoning",
    "ReasoningMode",
    "RemoteCode",
    "Requirement",
    "Rule",
    "RulesFile",
    "Serving",
    "Status",
    "SystemSupport",
    "Tokenizer",
    "TokenizerKind",
    "ToolCallLayout",
    "ToolsLayout",
    "Vision",
    "VisionModules",
    "VisionProcessor",
    "VisionServing",
]
