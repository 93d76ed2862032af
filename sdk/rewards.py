"""Rewards for online RL and evaluation, as TRL reward functions.

Each reward is a callable with TRL's signature, `f(prompts, completions, completion_ids=None, **columns)
-> list[float | None]`, so the same objects score GRPO rollouts (TRL sums them with `reward_weights`)
and `dayzero eval` generations. `None` means "no score for this row" (a missing reference): TRL turns it
into NaN and leaves it out of the mean; evaluation leaves it out of the average.

Rule rewards score the completion's *answer*: the reasoning block is split off with the family's
delimiters (`templates.split_reasoning`), so a thinking model is not marked wrong for thinking. The
`think_format` reward checks that block itself. A `reward_model` reward scores prompt + completion,
rendered with the family template exactly as the `rm` run saw its pairs; a `python` reward imports the
named function when the rewards are built (at training, never at compile time).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dayzero.errors import RecipeError, Where

from .recipe.rl import RewardSpec

RewardFn = Callable[..., list[float | None]]


def build_rewards(
    specs: Sequence[RewardSpec],
    *,
    family: Any,
    template: Any = None,
    tokenizer: Any = None,
    thinking: str | None = None,
    base_dir: Path | None = None,
    code_dir: Path | None = None,
    device: str | None = None,
) -> list[RewardFn]:
    """One callable per spec, named as the logs show it (TRL reads `__name__`). `code_dir` goes first on the
    import path of python rewards (the recipe's folder, so a `rewards.py` next to the recipe imports)."""
    out = []
    for i, spec in enumerate(specs):
        fn = _build(
            spec, family, template, tokenizer, thinking, base_dir, code_dir, device, f"rl.rewards.{i}"
        )
        fn.__name__ = spec.label  # type: ignore[attr-defined]
        out.append(fn)
    return out


def _build(
    spec: RewardSpec,
    family: Any,
    template: Any,
    tokenizer: Any,
    thinking: str | None,
    base_dir: Path | None,
    code_dir: Path | None,
    device: str | None,
    where: str,
) -> RewardFn:
    kind = spec.kind
    if kind in ("exact_match", "contains"):
        return _reference_reward(spec.column or "reference", family, exact=kind == "exact_match")
    if kind == "regex":
        return _per_answer(
            family, lambda answer, p=re.compile(spec.pattern or ""): float(p.search(answer) is not None)
        )
    if kind == "json_valid":
        return _per_answer(family, _json_valid)
    if kind == "length":
        return _length_reward(spec.min_tokens, spec.max_tokens, tokenizer)
    if kind == "think_format":
        return _think_format(family)
    if kind == "reward_model":
        return RewardModelReward(
            reward_model_dir(spec.run or "", base_dir, where), template, thinking, device
        )
    return import_function(spec.function or "", where, code_dir=code_dir)


# -- rule rewards -----------------------------------------------------------------------------------


def answer_of(completion: str, family: Any) -> str:
    """The completion without its reasoning block (the whole completion for families that do not think)."""
    from .templates import split_reasoning

    return split_reasoning(completion, family)[1].strip()


def _per_answer(family: Any, score: Callable[[str], float]) -> RewardFn:
    def reward(prompts: Sequence[Any], completions: Sequence[str], **_: Any) -> list[float | None]:
        return [score(answer_of(c, family)) for c in completions]

    return reward


def _json_valid(answer: str) -> float:
    try:
        json.loads(answer)
    except ValueError:
        return 0.0
    return 1.0


def _reference_reward(column: str, family: Any, *, exact: bool) -> RewardFn:
    def reward(prompts: Sequence[Any], completions: Sequence[str], **columns: Any) -> list[float | None]:
        if column not in columns:
            raise RecipeError(
                f"no column `{column}` reaches the reward",
                where=Where(field="rl.rewards.column"),
                hint=f"columns: {sorted(k for k in columns if not k.startswith(('trainer_', 'log_')))}",
            )
        out: list[float | None] = []
        for completion, ref in zip(completions, columns[column], strict=True):
            if ref is None or str(ref).strip() == "":
                out.append(None)
                continue
            answer, target = answer_of(completion, family), str(ref).strip()
            out.append(float(answer == target if exact else target in answer))
        return out

    return reward


def _length_reward(low: int | None, high: int | None, tokenizer: Any) -> RewardFn:
    def reward(
        prompts: Sequence[Any],
        completions: Sequence[str],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **_: Any,
    ) -> list[float | None]:
        if completion_ids is None:
            if tokenizer is None:
                raise RecipeError("a `length` reward counts tokens and needs the completions' token ids")
            completion_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions]
        return [
            float((low is None or len(ids) >= low) and (high is None or len(ids) <= high))
            for ids in completion_ids
        ]

    return reward


def _think_format(family: Any) -> RewardFn:
    """1 when the completion holds a closed reasoning block followed by a non-empty answer.

    The opening tag may be missing from the completion when the prompt already ends with it (the
    generation prompt of R1-Distill, or Qwen3 with thinking on, writes it).
    """
    reasoning = family.template.reasoning
    open_tag, close_tag = reasoning.open or "", reasoning.close or ""

    def reward(prompts: Sequence[Any], completions: Sequence[str], **_: Any) -> list[float | None]:
        out: list[float | None] = []
        for prompt, completion in zip(prompts, completions, strict=True):
            text = completion
            if isinstance(prompt, str) and open_tag and prompt.rstrip().endswith(open_tag):
                text = open_tag + completion
            head, sep, tail = text.partition(close_tag)
            opened = open_tag in head and head.split(open_tag)[-1].strip() != ""
            out.append(float(bool(sep) and opened and tail.strip() != "" and open_tag not in tail))
        return out

    return reward


# -- python rewards ---------------------------------------------------------------------------------


def import_function(
    path: str, where: str = "rl.rewards.function", *, code_dir: Path | None = None
) -> RewardFn:
    """`package.module:function` or `package.module.function`, imported (its module's code runs now)."""
    import sys

    if code_dir is not None and str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise RecipeError(
            f"`{path}` is not an import path",
            where=Where(field=where),
            hint="write `package.module:function`",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RecipeError(
            f"cannot import `{module_name}`: {exc}",
            where=Where(field=where),
            hint="the module must be importable (on PYTHONPATH, or installed)",
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise RecipeError(f"`{module_name}` has no function `{attr}`", where=Where(field=where))

    def reward(
        *args: Any, **kwargs: Any
    ) -> list[float | None]:  # a wrapper: TRL sets no attribute on user code
        return list(fn(*args, **kwargs))

    return reward


def check_import_path(path: str) -> str | None:
    """A problem with an import path's shape, without importing anything (compile time)."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    ident = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
    if not (module_name and attr and ident.match(module_name) and attr.isidentifier()):
        return f"`{path}` is not an import path such as `package.module:function`"
    return None


# -- reward model -----------------------------------------------------------------------------------


def reward_model_dir(spec: str, base_dir: Path | None, where: str = "rl.rewards.run") -> Path:
    """The sequence-classification model of a dayzero `rm` run (its export, else final/), or a model dir."""
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = base_dir / path
    run_json = path / "run.json"
    if run_json.is_file():
        try:
            info = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RecipeError(f"cannot read {run_json}: {exc}", where=Where(field=where)) from None
        stage = (info.get("plan") or {}).get("trainer", {}).get("stage")
        if stage != "rm":
            raise RecipeError(
                f"the run {path} trained stage `{stage}`, not a reward model (`rm`)",
                where=Where(field=where),
                hint="name the directory of a `stage: rm` run",
            )
        out = (info.get("export") or {}).get("out")
        candidates = [
            Path(out) if out and Path(out).is_absolute() else path / (out or "export"),
            path / "export",
        ]
        for cand in candidates:
            if (cand / "config.json").is_file():
                return cand
        raise RecipeError(
            f"the rm run {path} has no merged export",
            where=Where(field=where),
            hint="export it merged (`dayzero export RUN`) before using it as a reward",
        )
    if (path / "config.json").is_file():
        return path
    raise RecipeError(f"{spec!r} is neither a dayzero rm run nor a model directory", where=Where(field=where))


class RewardModelReward:
    """The score (logit 0) of a sequence classifier for prompt + completion, tokenized as the `rm` stage tokenized
    its training pairs.

    The ids come from the data module's own `rm` preprocessing (`data.preprocess`): the prompt rendered with
    the generation prompt and the reply up to its end-of-turn token, each tokenized alone, so the reward
    model scores exactly the kind of sequence it was trained on, reasoning passed as `reasoning_content`.
    """

    def __init__(
        self, model_dir: Path, template: Any, thinking: str | None, device: str | None = None
    ) -> None:
        self.model_dir, self.template, self.thinking, self.device = model_dir, template, thinking, device
        self.model: Any = None
        self.tokenizer: Any = None
        self.pre: Any = None
        self.__name__ = "reward_model"

    def _load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from .data.preprocess import Options, Preprocessor

        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if (
            backend is not None
        ):  # an exported tokenizer.json can carry batch padding; ids are scored one by one
            backend.no_padding()
        model = AutoModelForSequenceClassification.from_pretrained(str(self.model_dir), use_safetensors=True)
        self.model = model.to(self.device or "cpu").eval()
        if self.template is None:
            from .templates import ChatTemplate

            self.template = ChatTemplate.for_tokenizer(self.tokenizer)
        limit = getattr(self.model.config, "max_position_embeddings", None) or 1 << 30
        self.pre = Preprocessor(
            self.template, self.tokenizer, Options("rm", int(limit), thinking=self.thinking)
        )

    def ids(self, messages: list[dict[str, Any]], completion: str, tools: Any = None) -> list[int] | None:
        """The rm stage's `chosen_ids` for the prompt `messages` answered by `completion` (None: too long)."""
        from .data.problems import Origin

        if self.model is None:
            self._load()
        reasoning, answer = _split(completion, self.template)
        reply: dict[str, Any] = {"role": "assistant", "content": answer}
        if reasoning:
            reply["reasoning_content"] = reasoning
        row = {"prompt": messages, "chosen": [reply], "rejected": [reply], "tools": tools}
        cols, _, problems = self.pre([(Origin("rollout", 1), row)])
        if problems:
            from dayzero.errors import TemplateError

            raise TemplateError(f"the reward model cannot score this completion: {problems[0].detail}")
        return cols["chosen_ids"][0] if cols["chosen_ids"] else None

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[str], **columns: Any
    ) -> list[float | None]:
        import torch

        messages = columns.get("messages")
        if messages is None:
            raise RecipeError("a `reward_model` reward needs the prompts' messages (the `messages` column)")
        tools = columns.get("tools") or [None] * len(completions)
        scores: list[float | None] = []
        for i, completion in enumerate(completions):
            tool_list = json.loads(tools[i]) if isinstance(tools[i], str) else tools[i]
            ids = self.ids(json.loads(messages[i]), completion, tool_list)
            if ids is None:
                scores.append(None)
                continue
            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor([ids], device=self.model.device)).logits
            scores.append(float(logits[0, 0]))
        return scores


def _split(completion: str, template: Any) -> tuple[str | None, str]:
    from .templates import split_reasoning

    try:
        return split_reasoning(completion, template)
    except TypeError:  # a template without reasoning facts
        return None, completion
