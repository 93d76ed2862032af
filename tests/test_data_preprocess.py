"""Each stage's token ids and labels, on hand-worked ChatML cases with a tokenizer whose ids are countable.

The char tokenizer (`dayzero.sdk.data.testing`) gives every ASCII character its code point and the
special tokens 128 (`<|im_start|>`), 129 (`<|im_end|>`), 130 (`<|endoftext|>`), so the expected ids are
written from the ChatML text as Qwen documents it:
``<|im_start|>{role}\\n{content}<|im_end|>\\n``, a reply trained up to and including `<|im_end|>`.
"""

from __future__ import annotations

import pytest

from dayzero import registry
from dayzero.sdk.data.preprocess import Options, Preprocessor
from dayzero.sdk.data.problems import Origin
from dayzero.sdk.data.testing import char_tokenizer, ords
from dayzero.sdk.templates import ChatTemplate

S, E = 128, 129  # <|im_start|>, <|im_end|>
NL = 10
X = -100


@pytest.fixture(scope="module")
def tok():
    return char_tokenizer(["<|im_start|>", "<|im_end|>", "<|endoftext|>"], eos="<|im_end|>", pad="<|endoftext|>")


@pytest.fixture(scope="module")
def tpl():
    return ChatTemplate.for_family(registry.get("qwen2"))


def turn(role: str, content: str) -> list[int]:
    return [S, *ords(f"{role}\n{content}"), E, NL]


def header() -> list[int]:
    return [S, *ords("assistant\n")]


def run(tpl, tok, rows, stage="sft", **opts):
    options = Options(stage=stage, cutoff_len=opts.pop("cutoff_len", 1024), **opts)
    items = [(Origin("t.jsonl", i + 1), row) for i, row in enumerate(rows)]
    return Preprocessor(tpl, tok, options)(items)


SYS = {"role": "system", "content": "S"}
CONV = [SYS, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"},
        {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]


def test_sft_single_turn_ids_and_labels(tpl, tok):
    cols, stats, problems = run(tpl, tok, [{"messages": CONV[:3]}])
    prompt = turn("system", "S") + turn("user", "Hi") + header()
    assert cols["input_ids"] == [[*prompt, *ords("Yo"), E, NL]]
    assert cols["labels"] == [[X] * len(prompt) + [*ords("Yo"), E, X]]
    assert not problems and stats.rows_kept == 1 and stats.trained_tokens == 3


def test_sft_multi_turn_trains_every_reply(tpl, tok):
    cols, _, _ = run(tpl, tok, [{"messages": CONV}])
    first = turn("system", "S") + turn("user", "Hi") + header()
    second = turn("user", "Q") + header()
    assert cols["input_ids"][0] == [*first, *ords("Yo"), E, NL, *second, ord("A"), E, NL]
    assert cols["labels"][0] == [X] * len(first) + [*ords("Yo"), E, X] + [X] * len(second) + [ord("A"), E, X]


def test_mask_history_trains_only_the_last_reply(tpl, tok):
    cols, _, _ = run(tpl, tok, [{"messages": CONV}], mask_history=True)
    trained = [t for t in cols["labels"][0] if t != X]
    assert trained == [ord("A"), E]


def test_train_on_prompt_trains_everything(tpl, tok):
    cols, _, _ = run(tpl, tok, [{"messages": CONV}], train_on_prompt=True)
    assert cols["labels"][0] == cols["input_ids"][0]


def test_train_false_message_is_not_trained(tpl, tok):
    messages = [dict(m) for m in CONV]
    messages[2]["train"] = False
    cols, _, _ = run(tpl, tok, [{"messages": messages}])
    assert [t for t in cols["labels"][0] if t != X] == [ord("A"), E]


def test_truncation_turns_keeps_whole_turns_and_ends_on_end_of_turn(tpl, tok):
    first = turn("system", "S") + turn("user", "Hi") + header() + [*ords("Yo"), E]
    full = len(first) + 1 + len(turn("user", "Q") + header()) + 3
    # one token short of the whole row: only the final "\n" (after the last <|im_end|>) goes
    cols, stats, _ = run(tpl, tok, [{"messages": CONV}], cutoff_len=full - 1, truncation="turns")
    assert cols["input_ids"][0][-2:] == [ord("A"), E] and len(cols["input_ids"][0]) == full - 1
    assert (stats.truncated, stats.turns_dropped) == (1, 0)
    # two short: the second turn cannot end on its <|im_end|>, so the row is cut right after the first one
    cols, stats, _ = run(tpl, tok, [{"messages": CONV}], cutoff_len=full - 2, truncation="turns")
    assert cols["input_ids"] == [first]
    assert cols["labels"][0][-3:] == [*ords("Yo"), E]
    assert (stats.truncated, stats.turns_dropped, stats.too_long) == (1, 1, 0)


def test_truncation_turns_drops_a_row_whose_first_reply_does_not_fit(tpl, tok):
    prompt = turn("system", "S") + turn("user", "Hi") + header()
    cols, stats, _ = run(tpl, tok, [{"messages": CONV[:3]}], cutoff_len=len(prompt) + 1, truncation="turns")
    assert cols["input_ids"] == [] and stats.too_long == 1


def test_default_truncation_cuts_inside_the_turn_that_does_not_fit(tpl, tok):
    first = turn("system", "S") + turn("user", "Hi") + header()
    second = turn("user", "Q") + header()
    full = [*first, *ords("Yo"), E, NL, *second, ord("A"), E, NL]
    # two short: the second reply keeps its "A" (trained) and loses <|im_end|> and "\n"; the first keeps its end
    cols, stats, _ = run(tpl, tok, [{"messages": CONV}], cutoff_len=len(full) - 2)
    assert cols["input_ids"] == [full[:-2]]
    assert cols["labels"] == [[X] * len(first) + [*ords("Yo"), E, X] + [X] * len(second) + [ord("A")]]
    assert (stats.truncated, stats.turns_dropped, stats.too_long, stats.rows_kept) == (1, 1, 0, 1)


def test_default_truncation_keeps_a_row_whose_first_reply_does_not_fit(tpl, tok):
    prompt = turn("system", "S") + turn("user", "Hi") + header()
    cols, stats, _ = run(tpl, tok, [{"messages": CONV}], cutoff_len=len(prompt) + 1)
    assert cols["input_ids"] == [[*prompt, ord("Y")]]
    assert cols["labels"] == [[X] * len(prompt) + [ord("Y")]]
    assert (stats.truncated, stats.turns_dropped, stats.too_long) == (1, 2, 0)


def test_a_row_whose_prompt_alone_does_not_fit_is_dropped_and_counted(tpl, tok):
    # the system turn alone is 12 tokens: nothing trained would remain within 10, in any mode
    for mode in ("cut", "turns", "drop"):
        cols, stats, _ = run(tpl, tok, [{"messages": CONV}, {"messages": CONV[:3]}], cutoff_len=10, truncation=mode)
        assert cols["input_ids"] == [] and stats.too_long == 2 and stats.rows_kept == 0


def test_truncation_drop_drops_every_row_too_long(tpl, tok):
    short = turn("system", "S") + turn("user", "Hi") + header() + [*ords("Yo"), E, NL]
    cols, stats, _ = run(tpl, tok, [{"messages": CONV}, {"messages": CONV[:3]}], cutoff_len=len(short),
                         truncation="drop")
    assert cols["input_ids"] == [short] and (stats.too_long, stats.rows_kept, stats.truncated) == (1, 1, 0)


def test_a_template_refusal_is_a_row_problem(tok):
    gemma = ChatTemplate.for_family(registry.get("gemma2"))  # the gemma format rejects a system message
    _, _, problems = run(gemma, tok, [{"messages": CONV[:3]}])
    assert len(problems) == 1 and problems[0].reason == "template"
    assert str(problems[0].origin) == "t.jsonl row 1" and "system" in problems[0].detail


PAIR = {"prompt": [SYS, {"role": "user", "content": "Hi"}],
        "chosen": [{"role": "assistant", "content": "Yo"}], "rejected": [{"role": "assistant", "content": "No"}]}
PROMPT_IDS = turn("system", "S") + turn("user", "Hi") + header()


def test_dpo_columns(tpl, tok):
    cols, stats, _ = run(tpl, tok, [PAIR], stage="dpo")
    assert cols == {"prompt_ids": [PROMPT_IDS], "chosen_ids": [[*ords("Yo"), E]], "rejected_ids": [[*ords("No"), E]]}
    assert stats.rows_kept == 1


def test_rm_columns_are_prompt_plus_reply(tpl, tok):
    cols, _, _ = run(tpl, tok, [PAIR], stage="rm")
    assert cols == {"chosen_ids": [[*PROMPT_IDS, *ords("Yo"), E]], "rejected_ids": [[*PROMPT_IDS, *ords("No"), E]]}


def test_orpo_columns_follow_tokenize_row(tpl, tok):
    cols, _, _ = run(tpl, tok, [PAIR], stage="orpo")
    n = len(PROMPT_IDS)
    assert cols["prompt_input_ids"] == [PROMPT_IDS] and cols["prompt_attention_mask"] == [[1] * n]
    assert cols["chosen_input_ids"] == [[*PROMPT_IDS, *ords("Yo"), E]]
    assert cols["chosen_labels"] == [[X] * n + [*ords("Yo"), E]]
    assert cols["rejected_attention_mask"] == [[1] * (n + 3)]


def test_kto_columns(tpl, tok):
    row = {"prompt": PAIR["prompt"], "completion": PAIR["rejected"], "label": False}
    cols, _, _ = run(tpl, tok, [row], stage="kto")
    assert cols == {"prompt_ids": [PROMPT_IDS], "completion_ids": [[*ords("No"), E]], "label": [False]}


def test_preference_too_long_is_dropped_with_truncation_drop_or_turns(tpl, tok):
    for mode in ("drop", "turns"):
        cols, stats, _ = run(tpl, tok, [PAIR], stage="dpo", cutoff_len=len(PROMPT_IDS) + 2, truncation=mode)
        assert cols["prompt_ids"] == [] and stats.too_long == 1 and stats.truncated == 0


def test_pt_appends_eos_and_splits_or_cuts(tpl, tok):
    cols, _, _ = run(tpl, tok, [{"text": "abc"}], stage="pt")
    assert cols["input_ids"] == [[*ords("abc"), E]] and cols["labels"] == cols["input_ids"]
    cols, stats, _ = run(tpl, tok, [{"text": "abcdefg"}], stage="pt", cutoff_len=3, packing=True)
    assert cols["input_ids"] == [ords("abc"), ords("def"), [ord("g"), E]] and stats.split_docs == 1
    cols, stats, _ = run(tpl, tok, [{"text": "abcdefg"}], stage="pt", cutoff_len=3)
    assert cols["input_ids"] == [ords("abc")] and stats.truncated == 1


@pytest.mark.parametrize("family_id", ["qwen3", "llama3"])
def test_batched_labels_equal_the_template_encoder(family_id):
    """The fast batched path gives exactly `ChatTemplate.encode` (the templates' own reference path)."""
    from dayzero.sdk.data import DataConfig
    from dayzero.sdk.data.pipeline import read, resolve_specs
    from dayzero.sdk.data.problems import ProblemLog
    from dayzero.sdk.tiny import tiny_tokenizer

    family = registry.get(family_id)
    template = ChatTemplate.for_family(family)
    tokenizer = tiny_tokenizer(family)
    spec = resolve_specs(DataConfig(datasets=["demo_sft"]), "sft")[0]
    items = list(read(spec, "sft", ProblemLog("raise"), None, False))
    assert any(row.get("tools") for _, row in items) and any(
        m.get("reasoning_content") for _, row in items for m in row["messages"])
    for opts in ({}, {"mask_history": True}, {"train_on_prompt": True}):
        cols, _, problems = run(template, tokenizer, [row for _, row in items], cutoff_len=100_000, **opts)
        assert not problems
        for k, (_, row) in enumerate(items):
            ref = template.encode(row["messages"], tokenizer, tools=row.get("tools"), **opts)
            assert cols["input_ids"][k] == ref.input_ids
            assert cols["labels"][k] == ref.labels, (opts, k)


@pytest.mark.reference
def test_batched_labels_equal_the_template_encoder_with_phi3_sentencepiece(reference_dir):
    """A real SentencePiece vocabulary (Phi-3's, from its GGUF): offsets with `▁` pieces, same labels."""
    pytest.importorskip("gguf")
    from transformers import AutoTokenizer

    from dayzero.sdk.data import DataConfig
    from dayzero.sdk.data.pipeline import read, resolve_specs
    from dayzero.sdk.data.problems import ProblemLog

    tokenizer = AutoTokenizer.from_pretrained(str(reference_dir / "llama.cpp" / "models"),
                                              gguf_file="ggml-vocab-phi-3.gguf")
    template = ChatTemplate.for_family(registry.get("phi3"))
    spec = resolve_specs(DataConfig(datasets=["demo_sft"]), "sft")[0]
    rows = [row for _, row in read(spec, "sft", ProblemLog("raise"), 80, False) if not row.get("tools")]
    cols, _, problems = run(template, tokenizer, rows, cutoff_len=100_000)
    assert not problems
    for k, row in enumerate(rows):
        ref = template.encode(row["messages"], tokenizer)
        assert (cols["input_ids"][k], cols["labels"][k]) == (ref.input_ids, ref.labels), k
