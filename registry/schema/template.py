"""The chat format as structured data.

A *format* (``families/formats/<id>.yaml``) is the reusable part: ChatML is defined once and used by
Qwen2.5, Yi, SmolLM2... A family's ``template`` section references a format and adds what is
family-specific: default system prompt, tool-call dialect, reasoning mode, the official template
used for parity, and the capabilities found by probing.

The renderer (``dayzero.sdk.templates``) turns this data into text, token labels and a generated
Jinja template; this module only defines and validates the data. Every quirk of an official
template that the renderer reproduces is a field here (trimmed roles, where the tools list goes, how
a run of tool results is wrapped...), never a branch on a family id in code.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import Field, model_validator

from .common import Identifier, Strict

Role = Literal["system", "user", "assistant", "tool"]


class SystemSupport(str, Enum):
    native = "native"  # a system turn of its own
    fold_first_user = "fold_first_user"  # prepended to the first user message
    fold_last_user = "fold_last_user"  # prepended to the last user message (Mistral v3)
    none = "none"  # silently dropped by the official template
    reject = "reject"  # the official template raises on a system message


class ReasoningMode(str, Enum):
    none = "none"
    always = "always"
    hybrid = "hybrid"


class HistoryThinking(str, Enum):
    keep = "keep"  # earlier turns keep their reasoning
    strip = "strip"  # reasoning removed from every assistant turn the template renders
    strip_before_last_user = "strip_before_last_user"  # removed only before the last user message (Qwen3)
    last_only = "last_only"  # only the final answer of a training conversation shows it (gpt-oss)


class Reasoning(Strict):
    mode: ReasoningMode = Field(default=ReasoningMode.none, description="none | always | hybrid.")
    switch: str | None = Field(
        default=None, description="Name of the template variable that turns thinking on or off (hybrid only)."
    )
    default_on: bool = Field(default=True, description="Whether a hybrid model thinks when the switch is not given.")
    open: str | None = Field(default=None, description="Opening delimiter of a reasoning block, e.g. `<think>`.")
    close: str | None = Field(default=None, description="Closing delimiter of a reasoning block, e.g. `</think>`.")
    history: HistoryThinking = Field(
        default=HistoryThinking.keep, description="What happens to reasoning in earlier assistant turns."
    )
    block: str = Field(
        default="{open}\n{reasoning}\n{close}\n\n",
        description="How a reasoning block is written before the content; `{open}`, `{reasoning}`, `{close}`. "
        "The reasoning is stripped of newlines at both ends and the content of leading newlines, as Qwen3's "
        "template does.",
    )
    trim_newlines: bool | None = Field(
        default=None,
        description="Strip newlines at the ends of the reasoning and at the start of the content (Qwen3). "
        "None: true unless `history` is `strip` (R1 keeps the content after `</think>` as it is).",
    )
    render_empty: Literal["never", "last"] = Field(
        default="never",
        description="Whether an assistant turn with no reasoning still gets an (empty) block: `last` = when it is "
        "the final message after the last user turn (Qwen3's `loop.last` rule).",
    )
    on_prompt: str = Field(
        default="", description="Text after the generation prompt when thinking is on (R1-Distill: `<think>\\n`)."
    )
    off_prompt: str = Field(
        default="",
        description="Text after the generation prompt when thinking is off (Qwen3: an empty think block).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Reasoning:
        if self.mode == ReasoningMode.hybrid and not self.switch:
            raise ValueError("a `hybrid` reasoning mode needs the name of its `switch`")
        if self.mode != ReasoningMode.none and not (self.open and self.close):
            raise ValueError(f"reasoning mode `{self.mode}` needs `open` and `close` delimiters")
        return self


class Deviation(Strict):
    """A place where the official template deliberately differs from the structured format."""

    case: str = Field(description="The battery case id the deviation applies to (e.g. `system`).")
    behaviour: Literal["raises", "drops", "differs"] = Field(description="What the official template does there.")
    note: str = Field(description="Why, in one line.")


class Capabilities(Strict):
    """What a template can do, found by probing it (not typed by hand)."""

    system_role: bool = Field(description="A system message reaches the rendered text.")
    tools: bool = Field(description="A tools list reaches the rendered text.")
    tool_calls: bool = Field(description="An assistant tool call reaches the rendered text.")
    parallel_tool_calls: bool = Field(description="Two calls in one assistant turn both render.")
    tool_call_arguments: Literal["object", "string", "both", "none"] = Field(
        description="Which argument forms render as the JSON object: a dict, a JSON string, both."
    )
    prefix_preserving: bool = Field(
        description="Earlier turns render the same whatever follows (render-diff masks are exact)."
    )
    end_of_turn_trained: bool = Field(description="The end-of-turn token lies inside the trained assistant span.")
    reasoning: ReasoningMode = Field(description="none | always | hybrid, as the template behaves.")


class ToolsLayout(Strict):
    """Where and how the list of available tools is written."""

    placement: Literal["system", "first_user", "before_last_user"] = Field(
        description="system: appended to the system content (a system turn is made if none); first_user: "
        "prepended to the first user message's content; before_last_user: a block before the last user turn."
    )
    block: str = Field(description="The whole tools text; `{tools}` is the joined items.")
    item: str = Field(
        default="{tool}",
        description="One tool; `{tool}` is its JSON (or its declaration, see item_style); `{name}`, `{description}` "
        "and `{parameters}` (one-line JSON) are the function's fields (DeepSeek-V3.1's `### name` list).",
    )
    item_style: Literal["json", "typescript"] = Field(
        default="json", description="typescript: `{tool}` is harmony's TypeScript-like declaration (gpt-oss)."
    )
    system_suffix: str = Field(default="", description="Text put at the very end of the system content when tools are given.")
    joiner: str = Field(default="", description="Between two items.")
    json_indent: int | None = Field(default=None, description="Indent of each tool's JSON (None: one line).")
    separator: str = Field(default="", description="Between the existing system/user content and the block.")
    system_prefix: str = Field(
        default="", description="Text put at the very start of the system content when tools are given."
    )


class ToolCallLayout(Strict):
    """How an assistant turn with tool calls is laid out (the calls' text comes from the dialect)."""

    content: Literal["keep", "drop", "reject"] = Field(
        default="keep", description="What happens to text content next to tool calls."
    )
    separator: str = Field(default="", description="Between non-empty content and the calls.")
    wrap: str | None = Field(
        default=None,
        description="With `content: keep`: how non-empty text next to calls is written before them, instead of "
        "the content, `content_prefix` and `separator`; `{content}` (gpt-oss: an analysis message).",
    )
    wrap_until_answer: bool = Field(
        default=False,
        description="The wrapped text is written only while no later assistant turn answers without calls, "
        "dropped once one does (gpt-oss keeps a call's analysis only until a final answer follows).",
    )
    wrap_reasoning: bool = Field(
        default=False,
        description="Without text next to the calls, the turn's reasoning is wrapped instead; text and reasoning "
        "together are refused (gpt-oss: either becomes the analysis message, both raise).",
    )
    single: bool = Field(default=False, description="The official template raises on more than one call.")
    slot: str | None = Field(
        default=None,
        description="Assistant slot for a tool-call turn when it differs from `assistant` (Mistral v3: no space "
        "before `[TOOL_CALLS]`); `{content}`. Without the end-of-turn text, all of it after the header is trained "
        "(harmony: a call ends with `<|call|>`).",
    )


# The tool-call dialects dayzero reads and writes (sdk/templates/dialects.py implements exactly these; a test
# holds the two lists equal), validated when a family file loads rather than when a tool call is rendered.
ToolDialect = Literal[
    "hermes", "llama3_json", "mistral", "mistral_spm", "mistral_v11", "glm4", "harmony", "deepseek", "deepseek_v31"
]


class FamilyTemplate(Strict):
    """A family's chat template: a format reference plus family facts."""

    format: Identifier = Field(description="Id of a chat format under families/formats/.")
    default_system: str | None = Field(
        default=None, description="System prompt the official template inserts when none is given."
    )
    tool_dialect: ToolDialect | None = Field(
        default=None, description="How tool calls are written (a dialect of `dayzero.sdk.templates.dialects`): hermes, "
        "llama3_json, mistral, mistral_spm, mistral_v11, glm4, harmony, deepseek (R1), deepseek_v31."
    )
    reasoning: Reasoning = Field(default_factory=Reasoning, description="The family's thinking mode.")
    official: str | None = Field(
        default=None,
        description="The official chat template for parity checks: a path under shared/reference "
        "(a .jinja file, or a tokenizer_config.json).",
    )
    official_kwargs: dict[str, str | bool | int] = Field(
        default_factory=dict,
        description="Extra variables the official template needs to render like the format (e.g. a date).",
    )
    deviations: list[Deviation] = Field(
        default_factory=list, description="Battery cases where the official template deliberately differs."
    )
    capabilities: Capabilities | None = Field(
        default=None, description="Recorded by `dayzero template caps`; conformance checks it still holds."
    )


class ChatFormat(Strict):
    """A reusable chat format, defined once in families/formats/<id>.yaml.

    Slots are plain strings with ``{content}`` (and, where noted, other) placeholders. They are data,
    not Jinja: the renderer fills them in, and generates Jinja from them for exports.
    """

    id: Identifier
    description: str = Field(description="Which models use this format, in one line.")
    bos: bool = Field(default=False, description="Whether a rendered conversation starts with the bos token text.")
    prefix: str = Field(default="", description="Text every conversation starts with, after bos (GLM-4: `[gMASK]<sop>`).")
    system: str | None = Field(default=None, description="Slot for a system turn; `{content}`.")
    user: str = Field(description="Slot for a user turn; `{content}`.")
    assistant: str = Field(
        description="Slot for an assistant turn; `{content}` then the end-of-turn text. "
        "What is trained is the content and the slot text after it up to and including the end-of-turn."
    )
    content_prefix: str = Field(
        default="",
        description="Trained text written before an answer's content, after any reasoning block (harmony: "
        "`<|channel|>final<|message|>`).",
    )
    final_end_of_turn: str | None = Field(
        default=None,
        description="End-of-turn text of the answer that ends a conversation with no generation prompt after it "
        "(harmony: `<|return|>` there, `<|end|>` elsewhere).",
    )
    final_tail: str | None = Field(
        default=None,
        description="Untrained text after the end-of-turn of the answer that ends a conversation with no generation "
        "prompt after it, when it differs from the assistant slot's (Falcon3: none, where earlier answers are "
        "followed by a newline); None: the slot's.",
        json_schema_extra={"hash_omits_default": True},
    )
    developer: str | None = Field(
        default=None,
        description="When set, the system turn is a fixed header (`system_preamble`) and a system message goes into "
        "this slot instead (harmony's developer message); `{content}`.",
    )
    developer_instructions: str = Field(
        default="{content}", description="How a system message is written inside the developer slot; `{content}`."
    )
    tool: str | None = Field(
        default=None,
        description="Slot for a tool result; `{content}`, and optionally `{tool_call_id}` and `{tool_name}` (the "
        "function of the latest tool call).",
    )
    tool_open: str = Field(default="", description="Before a run of consecutive tool results (Qwen: a user turn).")
    tool_joiner: str = Field(default="", description="Between two consecutive tool results (DeepSeek-R1: a newline).")
    tool_close: str = Field(default="", description="After a run of consecutive tool results.")
    tool_content: Literal["text", "json", "json_number"] = Field(
        default="text",
        description="json: a tool result's content is written as a JSON string (Llama 3.1); json_number: as a JSON "
        "number when it reads as an int or float, else a JSON string (Mistral v3).",
    )
    assistant_after_tool: str | None = Field(
        default=None,
        description="Slot for an assistant turn that follows a tool result, when it differs from `assistant` "
        "(DeepSeek: no `<｜Assistant｜>` header, the answer continues the tool outputs); `{content}`.",
    )
    generation_prompt: str = Field(description="Text that opens an assistant turn for generation.")
    generation_prompt_after_tool: str | None = Field(
        default=None,
        description="The generation prompt when the conversation ends with tool results, when it differs "
        "(DeepSeek: none at all, reasoning prompts included); None: `generation_prompt`.",
    )
    end_of_turn: str = Field(description="Text that closes an assistant turn (an end-of-turn token).")
    end_of_turn_in_slot: bool = Field(
        default=True,
        description="False where the assistant slot writes no end-of-turn and the next turn opens with it (GLM-4: "
        "`<|user|>` both ends an answer and starts a question); that opening text is then trained with the answer.",
    )
    end_of_turn_also: list[str] = Field(
        default_factory=list,
        description="With `end_of_turn_in_slot` false: other texts that open the next turn and so end an answer, "
        "trained with it like `end_of_turn` (GLM-4: `<|observation|>` after a tool call).",
    )
    system_support: SystemSupport = Field(default=SystemSupport.native, description="How a system message renders.")
    fold: str = Field(
        default="{system}\n\n{content}",
        description="A folded system prompt and the user message it joins; `{system}`, `{content}`.",
    )
    system_always: bool = Field(
        default=False, description="A system turn is written even without a system message (Llama 3.1's date header)."
    )
    system_preamble: str = Field(
        default="", description="Text at the start of every system turn's content; `{date}` is today's date."
    )
    date_format: str = Field(default="%d %b %Y", description="strftime format of `{date}` in the preamble.")
    fixed_date: str | None = Field(
        default=None,
        description="The text of `{date}` when the official template pins one (Llama 3.1/3.3 write `26 Jul 2024` "
        "unless given a `date_string`); None: today's date, as `strftime_now` gives.",
    )
    alternate: bool = Field(
        default=False,
        description="The messages after a system message must alternate user/assistant, starting with a user "
        "message; anything else raises, as the official template does (Gemma).",
    )
    trim: list[Role] = Field(default_factory=list, description="Roles whose content is stripped of outer whitespace.")
    skip_empty_system: bool = Field(default=False, description="An empty system message is not written at all.")
    final_eos: bool = Field(
        default=False, description="The eos text is appended when the conversation ends without a generation prompt."
    )
    tools: ToolsLayout | None = Field(default=None, description="Where the tools list goes; None: not supported.")
    tool_calls: ToolCallLayout = Field(default_factory=ToolCallLayout, description="Assistant tool-call layout.")

    @model_validator(mode="after")
    def _slots(self) -> ChatFormat:
        for name in ("system", "user", "assistant", "tool", "developer", "assistant_after_tool"):
            slot = getattr(self, name)
            if slot is not None and slot.count("{content}") != 1:
                raise ValueError(f"slot `{name}` must contain `{{content}}` exactly once, got {slot!r}")
        after = self.assistant.split("{content}", 1)[1]
        if self.end_of_turn_in_slot and self.end_of_turn not in after:
            raise ValueError(
                f"slot `assistant` must hold end_of_turn {self.end_of_turn!r} after `{{content}}`, got {after!r}"
            )
        if self.final_tail is not None and not self.end_of_turn_in_slot:
            raise ValueError("`final_tail` needs `end_of_turn_in_slot`: it is the slot text after the end-of-turn")
        if self.system_support == SystemSupport.native and self.system is None:
            raise ValueError("system_support `native` needs a `system` slot")
        return self
