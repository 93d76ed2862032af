"""Rule and python rewards on hand-worked completions, and prompt rows read from every prompt-bearing kind."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dayzero import registry
from dayzero.sdk.data import DataConfig
from dayzero.sdk.data.prompts import read_prompts, render, trainer_rows
from dayzero.sdk.recipe.rl import RewardSpec
from dayzero.sdk.rewards import build_rewards, import_function

DEMO = Path(__file__).resolve().parents[1] / "recipes" / "data"


def score(
    kind: str, completions: list[str], prompts: list[str] | None = None, family: str = "qwen3", **fields: Any
) -> list[float | None]:
    columns = fields.pop("columns", {})
    ids = fields.pop("completion_ids", None)
    fn = build_rewards([RewardSpec(kind=kind, **fields)], family=registry.get(family))[0]
    prompts = prompts or [""] * len(completions)
    return fn(prompts=prompts, completions=completions, completion_ids=ids, **columns)


def test_exact_match_scores_the_answer_after_the_reasoning_block() -> None:
    completions = ["<think>\n6 * 7, so\n</think>\n\n42", "42.", " 42 \n", "<think>42</think>41"]
    refs = ["42", "42", "42", "42"]
    assert score("exact_match", completions, columns={"reference": refs}) == [1.0, 0.0, 1.0, 0.0]
    assert score("exact_match", ["x"], columns={"reference": [None]}) == [None]  # no reference: no score


def test_contains_and_a_named_column() -> None:
    got = score(
        "contains", ["The capital is Lima.", "Quito"], column="city", columns={"city": ["Lima", "Lima"]}
    )
    assert got == [1.0, 0.0]


def test_regex_json_and_length() -> None:
    assert score("regex", ["-12 apples", "twelve", "<think>1</think>x"], pattern=r"^-?\d") == [1.0, 0.0, 0.0]
    assert score("json_valid", ['{"a": [1, 2]}', "{'a': 1}", "<think>hm</think>\n[1]"]) == [1.0, 0.0, 1.0]
    ids = [[1, 2], [1, 2, 3, 4], [1] * 9]
    assert score("length", ["", "", ""], completion_ids=ids, min_tokens=3, max_tokens=8) == [0.0, 1.0, 0.0]


def test_length_counts_tokens_when_no_ids_are_given() -> None:
    fn = build_rewards(
        [RewardSpec(kind="length", max_tokens=2)],
        family=registry.get("qwen2"),
        tokenizer=lambda text, add_special_tokens: {"input_ids": text.split()},
    )[0]
    assert fn(prompts=["", ""], completions=["a b", "a b c"]) == [1.0, 0.0]


def test_think_format_needs_a_closed_block_then_an_answer() -> None:
    completions = [
        "<think>\nadd them\n</think>\n\n42",  # a block, then the answer
        "<think>\nadd them\n</think>\n\n",  # no answer
        "42",  # no block
        "<think>\n\n</think>\n\n42",  # an empty block (what thinking off writes)
        "<think>a</think>b<think>c</think>d",  # a second block in the answer
    ]
    assert score("think_format", completions) == [1.0, 0.0, 0.0, 0.0, 0.0]
    # R1-Distill's generation prompt already opens the block: the completion starts inside it.
    prompt = "<｜User｜>Hi<｜Assistant｜><think>\n"
    assert score(
        "think_format", ["reasoning</think>answer"], prompts=[prompt], family="deepseek-r1-distill"
    ) == [1.0]


def test_python_reward_imports_the_named_function(tmp_path: Path) -> None:
    (tmp_path / "rewards_mod.py").write_text(
        "def count_a(prompts, completions, **kw):\n    return [c.count('a') for c in completions]\n"
    )
    fn = import_function("rewards_mod:count_a", code_dir=tmp_path)
    assert fn(prompts=["", ""], completions=["banana", "kiwi"]) == [3, 0]
    assert import_function("rewards_mod.count_a", code_dir=tmp_path)(prompts=[""], completions=["a"]) == [1]
    from dayzero.errors import RecipeError

    with pytest.raises(RecipeError, match="has no function `nope`"):
        import_function("rewards_mod:nope", code_dir=tmp_path)
    with pytest.raises(RecipeError, match="cannot import `no_such_module_xyz`"):
        import_function("no_such_module_xyz:f")


# -- prompt rows ---------------------------------------------------------------------------------------


def _jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DEMO / name).read_text().splitlines()]


@pytest.mark.parametrize("dataset", ["demo_prompts", "demo_sft", "demo_preference", "demo_kto", "identity"])
def test_every_prompt_bearing_kind_gives_prompts(dataset: str) -> None:
    prompts = read_prompts(DataConfig(datasets=[dataset], placeholders={"name": "Q", "author": "A"}))
    assert prompts.train and not prompts.held_out
    for row in prompts.train:
        assert row.messages and row.messages[-1]["role"] in ("user", "tool")


def test_references_come_from_the_rows() -> None:
    first = read_prompts(DataConfig(datasets=["demo_prompts"])).train[0]
    raw = _jsonl("prompts_demo.jsonl")[0]
    assert first.messages == raw["prompt"] and first.reference == raw["completion"]
    sft = read_prompts(DataConfig(datasets=["demo_sft"])).train[0]
    raw = _jsonl("sft_demo.jsonl")[0]["messages"]
    assert sft.messages == raw[:-1] and sft.reference == raw[-1]["content"]
    pref = read_prompts(DataConfig(datasets=["demo_preference"])).train[0]
    raw = _jsonl("preference_demo.jsonl")[0]
    assert pref.reference == raw["chosen"][-1]["content"]
    kto = read_prompts(DataConfig(datasets=["demo_kto"])).train
    labels = [r["label"] for r in _jsonl("kto_demo.jsonl")]
    assert [row.reference is not None for row in kto] == labels  # only a desirable completion is a reference


def test_held_out_prompts_are_the_rows_an_sft_run_holds_out() -> None:
    from dayzero.sdk.data.mix import val_indices

    config = DataConfig(datasets=["demo_sft"], val_size=0.1, seed=7)
    prompts = read_prompts(config)
    raw = _jsonl("sft_demo.jsonl")
    held = sorted(val_indices(len(raw), 0.1, 7))
    assert [p.reference for p in prompts.held_out] == [raw[i]["messages"][-1]["content"] for i in held]
    assert len(prompts.train) + len(prompts.held_out) == len(raw)


def test_a_reward_column_is_carried_and_a_missing_one_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps({"prompt": [{"role": "user", "content": "2+2?"}], "gold": "4"})
        + "\n"
        + json.dumps({"prompt": [{"role": "user", "content": "3+3?"}]})
        + "\n"
    )
    from dayzero.errors import DataError

    with pytest.raises(DataError, match=r"missing_column.*a reward compares against it"):
        read_prompts(DataConfig(datasets=[{"path": str(path), "kind": "prompt"}]), columns=["gold"])
    rows = read_prompts(
        DataConfig(datasets=[{"path": str(path), "kind": "prompt"}], on_error="skip"), columns=["gold"]
    ).train
    assert [r.extra for r in rows] == [{"gold": "4"}]


def test_rendered_prompts_are_the_served_text() -> None:
    from dayzero.sdk.templates import ChatTemplate

    rows = read_prompts(DataConfig(datasets=["demo_prompts"], max_samples=1)).train
    text = render(rows, ChatTemplate.for_family("qwen2"), thinking=None)[0][1]
    question = _jsonl("prompts_demo.jsonl")[0]["prompt"][0]["content"]
    # Qwen2.5's official template: its default system prompt, the user turn, the assistant opening.
    assert text == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    )
    cols = trainer_rows(render(rows, ChatTemplate.for_family("qwen3"), thinking="off"))
    assert cols["prompt"][0].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # Qwen3, thinking off
    assert json.loads(cols["messages"][0]) == rows[0].messages and cols["reference"] == [rows[0].reference]


def test_rollout_prompts_are_tokenized_as_the_server_tokenizes_them() -> None:
    """TRL adds special tokens to text prompts: a llama3 prompt would start with two bos tokens."""
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.tiny import tiny_tokenizer
    from dayzero.sdk.train.rl import grpo_trainer_class

    family = registry.get("llama3")
    tok = tiny_tokenizer(family)
    text = ChatTemplate.for_family(family).render(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True
    )
    bos = tok.convert_tokens_to_ids("<|begin_of_text|>")
    assert tok(text)["input_ids"][:2] == [bos, bos]  # what TRL's own plain-text path would feed the policy
    ids, images, extra = grpo_trainer_class()._tokenize_prompts(SimpleNamespace(processing_class=tok), [text])
    assert ids[0][0] == bos and ids[0].count(bos) == 1 and images is None and extra == {}
