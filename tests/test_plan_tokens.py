"""`dayzero plan` counts rows and tokens when the data is local, by the cutoff rule the run applies.

The expected counts are worked independently of the preprocessing code: each conversation is rendered by the
family template and tokenized whole by the tokenizer (`tokenizer(text)`), and a conversation longer than
cutoff_len counts as cut to cutoff_len (the default `truncation: cut`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.sdk import compile as compile_plan
from dayzero.sdk.plan_data import data_counts, render_counts
from dayzero.sdk.recipe.load import load_recipe
from dayzero.sdk.templates import ChatTemplate
from dayzero.sdk.tiny import tiny_tokenizer

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."}],
    [{"role": "user", "content": "What is two plus two?"}, {"role": "assistant", "content": "Four. " * 30}],
    [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}],
]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan-tokens") / "rows.jsonl"
    path.write_text("".join(json.dumps({"messages": m}) + "\n" for m in CONVERSATIONS), encoding="utf-8")
    return path


def expected_lengths() -> list[int]:
    family = registry.get("qwen2")
    tok, tpl = tiny_tokenizer(family), ChatTemplate.for_family(family)
    return [len(tok(tpl.render(m), add_special_tokens=False)["input_ids"]) for m in CONVERSATIONS]


def test_counts_follow_the_cutoff_rule(data_file: Path, tmp_path: Path) -> None:
    lengths = expected_lengths()
    cutoff = sorted(lengths)[1] + 1  # the longest conversation does not fit, the other two do
    loaded = load_recipe(
        {
            "name": "t",
            "model": {"id": "tiny:qwen2"},
            "data": {"datasets": [str(data_file)], "cutoff_len": cutoff},
            "train": {"output_dir": str(tmp_path / "run")},
        }
    )
    counts = data_counts(compile_plan(loaded, cuda=False), loaded)
    assert counts["rows"] == 3 and counts["truncated"] == 1 and counts["too_long"] == 0
    assert counts["tokens"] == sum(min(n, cutoff) for n in lengths)
    assert 0 < counts["trained_tokens"] < counts["tokens"] and not counts["cached"]
    line = render_counts(counts)
    assert f"{counts['tokens']:,} tokens" in line and "1 rows cut" in line
    assert not (tmp_path / "run").exists()  # counting builds nothing in the run directory


def test_a_second_count_reads_the_tokenized_cache(data_file: Path, tmp_path: Path) -> None:
    loaded = load_recipe(
        {
            "name": "t",
            "model": {"id": "tiny:qwen2"},
            "data": {"datasets": [str(data_file)], "cache_dir": str(tmp_path / "cache")},
        }
    )
    plan = compile_plan(loaded, cuda=False)
    first, second = data_counts(plan, loaded), data_counts(plan, loaded)
    assert (
        not first["cached"]
        and second["cached"]
        and first["tokens"] == second["tokens"] == sum(expected_lengths())
    )


def test_a_hub_model_is_not_counted_and_says_why(data_file: Path) -> None:
    loaded = load_recipe(
        {"name": "t", "model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"}, "data": {"datasets": [str(data_file)]}}
    )
    counts = data_counts(compile_plan(loaded, cuda=False, ignore_lock=True), loaded)
    assert counts == {"skipped": "the tokenizer of Qwen/Qwen2.5-0.5B-Instruct is not a local directory"}
    assert render_counts(counts).startswith("  tokens    not counted: ")
