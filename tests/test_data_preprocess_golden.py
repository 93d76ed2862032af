"""The preprocessing hot path may get faster, never different: every token and label is pinned.

`prepare()` reads a varied set of rows (sharegpt with function calls and observations, OpenAI messages with
tools, tool calls, tool results, reasoning, `<think>`, `train: false`, alpaca with history; system turns,
multi-turn, unicode) for a spread of families and option sets (truncation modes at a small cutoff,
mask_history, train_on_prompt, thinking, dpo and kto), and the digest of its columns, stats and problems is
compared with ``tests/data/preprocess_golden.json``, recorded before the speed work of round 4 (issue 15). A
change to rendering, conversion, tokenizing or labels shows up here as the case that differs.

The golden file also records each family's content hash and the `tokenizers` version: when either differs
the digests are stale rather than wrong, and the failure says so. Regenerate only for an intended change of
output (say why in the commit):

    .venv/bin/python tests/test_data_preprocess_golden.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "data" / "preprocess_golden.json"
FAMILIES = [
    "qwen2",
    "qwen3",
    "llama3",
    "phi3",
    "mistral",
    "mistral-nemo",
    "glm4",
    "gpt-oss",
    "deepseek-r1-distill",
    "deepseek-v3",
    "gemma2",
    "llama2",
]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
LONG = " ".join(["The river runs through the old city, under every bridge, before the night."] * 6)


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": args}}


def openai_rows() -> list[dict[str, Any]]:
    """SFT rows in OpenAI layout: each exercises one branch of rendering, conversion or labelling."""
    u, a, s = "user", "assistant", "system"
    rows: list[list[dict[str, Any]]] = [
        [
            {"role": s, "content": "You are terse."},
            {"role": u, "content": "Hi"},
            {"role": a, "content": "Hello."},
        ],
        [
            {"role": u, "content": "One"},
            {"role": a, "content": "1"},
            {"role": u, "content": "Two"},
            {"role": a, "content": "2"},
            {"role": u, "content": "Three"},
            {"role": a, "content": "3"},
        ],
        [{"role": u, "content": "  padded  \n"}, {"role": a, "content": "\n  spaced reply \n"}],
        [{"role": u, "content": "東京 naïve 🙂 a\u0301"}, {"role": a, "content": "日本語 👍🏽 ü?!"}],
        [
            {"role": u, "content": "Think first."},
            {"role": a, "content": "Yes.", "reasoning_content": "Let me see."},
        ],
        [{"role": u, "content": "Think inline."}, {"role": a, "content": "<think>\nHmm.\n</think>\n\nDone."}],
        [
            {"role": s, "content": "Sys"},
            {"role": u, "content": "a"},
            {"role": a, "content": "skip me", "train": False},
            {"role": u, "content": "b"},
            {"role": a, "content": "keep me"},
        ],
        [
            {"role": u, "content": "Long one."},
            {"role": a, "content": LONG},
            {"role": u, "content": "More?"},
            {"role": a, "content": LONG},
        ],
        [
            {"role": u, "content": "Short?"},
            {"role": a, "content": "Yes."},
            {"role": u, "content": "And long?"},
            {"role": a, "content": LONG},
        ],
        [{"role": u, "content": "Only untrained."}, {"role": a, "content": "no", "train": False}],
        [{"role": s, "content": LONG}, {"role": u, "content": LONG}, {"role": a, "content": "short"}],
    ]
    out: list[dict[str, Any]] = [{"messages": m} for m in rows]
    tool_conv = [
        {"role": s, "content": "Use tools."},
        {"role": u, "content": "Weather in Paris?"},
        {"role": a, "content": "", "tool_calls": [_call("get_weather", city="Paris")]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
        {"role": a, "content": "It is sunny."},
    ]
    two_calls = [
        {"role": u, "content": "Paris and Rome?"},
        {
            "role": a,
            "content": "Checking.",
            "tool_calls": [_call("get_weather", city="Paris"), _call("get_weather", city="Rome")],
        },
        {"role": "tool", "content": "21"},
        {"role": "tool", "content": '{"t": 25}'},
        {"role": a, "content": "21 and 25."},
    ]
    out += [
        {"messages": tool_conv, "tools": [WEATHER]},
        {"messages": two_calls, "tools": [WEATHER]},
        {"messages": tool_conv[1:], "tools": json.dumps([WEATHER["function"]])},
    ]
    return out


def sharegpt_rows() -> list[dict[str, Any]]:
    return [
        {
            "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello there."}],
            "system": "Be kind.",
        },
        {
            "conversations": [
                {"from": "system", "value": "S"},
                {"from": "human", "value": "q1"},
                {"from": "gpt", "value": "a1"},
                {"from": "human", "value": "q2"},
                {"from": "gpt", "value": "a2"},
            ]
        },
        {
            "conversations": [
                {"from": "human", "value": "Weather?"},
                {
                    "from": "function_call",
                    "value": json.dumps({"name": "get_weather", "arguments": {"city": "Oslo"}}),
                },
                {"from": "observation", "value": "cold"},
                {"from": "gpt", "value": "Cold."},
            ],
            "tools": json.dumps([WEATHER["function"]]),
        },
        {"conversations": [{"from": "human", "value": "bad"}, {"from": "nobody", "value": "?"}]},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "   "}]},
    ]


def alpaca_rows() -> list[dict[str, Any]]:
    return [
        {"instruction": "Add", "input": "1 and 2", "output": "3", "system": "Math."},
        {"instruction": "Again", "input": "", "output": "4", "history": [["2+2?", "4"], ["3+3?", "6"]]},
        {"instruction": "Say hi", "output": "hi"},
    ]


def preference_rows() -> list[dict[str, Any]]:
    prompt = [{"role": "system", "content": "Judge."}, {"role": "user", "content": "Best color?"}]
    return [
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": "Blue."}],
            "rejected": [{"role": "assistant", "content": "I refuse."}],
        },
        {"prompt": prompt[1:], "chosen": "Green, " + LONG, "rejected": "Red."},
        {
            "prompt": [
                *prompt,
                {"role": "assistant", "content": "Hm?"},
                {"role": "user", "content": "Pick."},
            ],
            "chosen": [{"role": "assistant", "content": "<think>ok</think>Blue."}],
            "rejected": "None.",
        },
    ]


SFT_OPTIONS: dict[str, dict[str, Any]] = {
    "whole": {"cutoff_len": 100_000},
    "cut": {"cutoff_len": 300},
    "turns": {"cutoff_len": 300, "truncation": "turns"},
    "drop": {"cutoff_len": 240, "truncation": "drop"},
    "mask_history": {"cutoff_len": 100_000, "mask_history": True},
    "train_on_prompt": {"cutoff_len": 100_000, "train_on_prompt": True},
    "thinking_keep": {"cutoff_len": 100_000, "thinking": "keep"},
    "thinking_off": {"cutoff_len": 100_000, "thinking": "off"},
}


def write_files(folder: Path) -> dict[str, Path]:
    files = {
        "openai": openai_rows(),
        "sharegpt": sharegpt_rows(),
        "alpaca": alpaca_rows(),
        "pref": preference_rows(),
    }
    paths = {}
    for name, rows in files.items():
        paths[name] = folder / f"{name}.jsonl"
        paths[name].write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return paths


def digests(family_id: str, folder: Path) -> dict[str, str]:
    """case -> sha256 of what `prepare` returns for it (columns, stats without timings, problem reasons)."""
    from dayzero import registry
    from dayzero.errors import DataError
    from dayzero.sdk.data import DataConfig, prepare
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate
    from dayzero.sdk.tiny import tiny_tokenizer

    family = registry.get(family_id)
    tokenizer, template = tiny_tokenizer(family), ChatTemplate.for_family(family, date=TEST_DATE)
    paths = write_files(folder)
    datasets = [{"path": str(paths[f]), "format": f} for f in ("openai", "sharegpt", "alpaca")]
    cases: list[tuple[str, str, list[dict[str, Any]], dict[str, Any]]] = [
        (f"sft/{name}", "sft", datasets, opts) for name, opts in SFT_OPTIONS.items()
    ]
    pref = [{"path": str(paths["pref"]), "format": "openai", "kind": "preference"}]
    cases += [
        ("dpo/whole", "dpo", pref, {"cutoff_len": 100_000}),
        ("dpo/cut", "dpo", pref, {"cutoff_len": 160}),
        ("kto/whole", "kto", pref, {"cutoff_len": 100_000}),
    ]
    out = {}
    for name, stage, specs, opts in cases:
        config = DataConfig(datasets=specs, on_error="skip", on_unsupported="skip", **opts)
        try:
            prepared = prepare(config, stage=stage, template=template, tokenizer=tokenizer)
        except DataError as exc:  # e.g. nothing left to train at this cutoff: the message is the output
            out[name] = hashlib.sha256(str(exc).encode()).hexdigest()
            continue
        stats = prepared.stats
        payload = {
            "columns": {c: list(prepared.train[c]) for c in prepared.columns},
            "stats": {
                k: getattr(stats, k)
                for k in (
                    "rows_read",
                    "rows_kept",
                    "train_rows",
                    "truncated",
                    "turns_dropped",
                    "too_long",
                    "no_labels",
                    "tokens",
                    "trained_tokens",
                    "lengths",
                )
            },
            "problems": sorted(stats.problems.items()),
        }
        out[name] = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return out


def facts() -> dict[str, Any]:
    import tokenizers

    from dayzero import registry

    reg = registry.default()
    return {"tokenizers": tokenizers.__version__, "family_hashes": {f: reg.content_hash(f) for f in FAMILIES}}


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = facts()
    if recorded["tokenizers"] != now["tokenizers"]:
        pytest.fail(
            f"{GOLDEN.name} was recorded with tokenizers {recorded['tokenizers']}, this is "
            f"{now['tokenizers']}: check the output is unchanged otherwise, then regenerate it"
        )
    return recorded


@pytest.mark.parametrize("family_id", FAMILIES)
def test_prepare_output_is_unchanged(family_id: str, golden: dict[str, Any], tmp_path: Path) -> None:
    from dayzero import registry

    if registry.default().content_hash(family_id) != golden["family_hashes"][family_id]:
        pytest.fail(
            f"family {family_id} changed since {GOLDEN.name} was recorded: its digests are stale; "
            "regenerate the file (see this module's docstring) once the change is meant"
        )
    got = digests(family_id, tmp_path)
    expected = golden["digests"][family_id]
    assert set(got) == set(expected)
    changed = sorted(case for case in got if got[case] != expected[case])
    assert not changed, f"{family_id}: preprocessing output changed for {changed}"


def test_the_cases_are_varied(tmp_path: Path) -> None:
    """The digests above pin something: the cases really cut, drop, skip, train tools and differ from each other."""
    from dayzero import registry
    from dayzero.sdk.data import DataConfig, prepare
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate
    from dayzero.sdk.tiny import tiny_tokenizer

    family = registry.get("qwen2")
    tokenizer, template = tiny_tokenizer(family), ChatTemplate.for_family(family, date=TEST_DATE)
    paths = write_files(tmp_path)
    specs = [{"path": str(paths[f]), "format": f} for f in ("openai", "sharegpt", "alpaca")]
    whole = prepare(
        DataConfig(datasets=specs, on_error="skip", cutoff_len=100_000),
        stage="sft",
        template=template,
        tokenizer=tokenizer,
    ).stats
    cut = prepare(
        DataConfig(datasets=specs, on_error="skip", cutoff_len=300),
        stage="sft",
        template=template,
        tokenizer=tokenizer,
    ).stats
    turns = prepare(
        DataConfig(datasets=specs, on_error="skip", cutoff_len=300, truncation="turns"),
        stage="sft",
        template=template,
        tokenizer=tokenizer,
    ).stats
    assert whole.problems and whole.no_labels and not whole.truncated
    assert cut.truncated and turns.too_long and turns.turns_dropped
    assert len(set(digests("qwen2", tmp_path).values())) >= len(SFT_OPTIONS)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record = {**facts(), "digests": {f: digests(f, Path(tmp)) for f in FAMILIES}}
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
