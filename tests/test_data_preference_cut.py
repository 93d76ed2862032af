"""Preference and kto rows longer than cutoff_len are kept and cut by default, as LLaMA-Factory keeps them.

Expected values are worked by hand from LLaMA-Factory 0.9.5's rule (``infer_seqlen`` in
``data/processor/processor_utils.py``: a reply under half the cutoff stays whole; else a prompt under half
stays whole; else both are cut in proportion), with the char tokenizer of ``test_data_preprocess`` so every
id is a character's code point. The one deliberate difference: the cut prompt keeps its generation header
(``<|im_start|>assistant\\n``, 11 tokens here), which LLaMA-Factory's ``prompt[:n]`` would lose.
"""

from __future__ import annotations

import pytest

from dayzero import registry
from dayzero.sdk.data.pair_cut import cut_prompt, pair_lengths
from dayzero.sdk.data.testing import char_tokenizer
from dayzero.sdk.templates import ChatTemplate
from tests.test_data_preprocess import PAIR, PROMPT_IDS, SYS, E, X, header, ords, run, turn


@pytest.fixture(scope="module")
def tok():
    return char_tokenizer(
        ["<|im_start|>", "<|im_end|>", "<|endoftext|>"], eos="<|im_end|>", pad="<|endoftext|>"
    )


@pytest.fixture(scope="module")
def tpl():
    return ChatTemplate.for_family(registry.get("qwen2"))


SYSTEM = turn("system", "S")  # 11 tokens; PROMPT_IDS = SYSTEM + turn("user", "Hi") (10) + header() (11) = 32


@pytest.mark.parametrize(
    ("lengths", "kept"),  # (prompt, longest reply, cutoff) -> (prompt, reply) tokens kept
    [
        ((3000, 2000, 1000), (600, 400)),  # both cut in proportion: 1000 * 2000 / 5000 = 400
        ((2000, 3000, 1000), (400, 600)),
        ((1000, 100, 1000), (900, 100)),  # a short reply stays whole
        ((100, 1000, 1000), (100, 900)),  # a short prompt stays whole, the reply gets the rest
        ((100, 500, 1000), (100, 500)),  # fits: nothing cut
        ((32, 3, 1), (1, 0)),  # int(1 * 3 / 35) = 0 reply tokens
    ],
)
def test_pair_lengths_follow_llamafactory(lengths, kept):
    assert pair_lengths(*lengths) == kept


def test_cut_prompt_keeps_the_start_and_the_generation_header():
    prompt = list(range(10))
    assert cut_prompt(prompt, 6, 3) == [0, 1, 2, 7, 8, 9]
    assert cut_prompt(prompt, 2, 3) == [8, 9]  # the header alone is longer: its end
    assert cut_prompt(prompt, 10, 3) == prompt and cut_prompt(prompt, 0, 3) == []


def test_dpo_long_prompt_is_cut_keeping_its_header(tpl, tok):
    # reply 3 tokens < 20 / 2: replies whole, prompt 17 = its first 6 tokens + the 11-token header
    cols, stats, _ = run(tpl, tok, [PAIR], stage="dpo", cutoff_len=20)
    assert cols == {
        "prompt_ids": [[128, *ords("syste"), *header()]],
        "chosen_ids": [[*ords("Yo"), E]],
        "rejected_ids": [[*ords("No"), E]],
    }
    assert (stats.rows_kept, stats.truncated, stats.too_long) == (1, 1, 0)
    assert stats.tokens == 2 * (17 + 3) and stats.trained_tokens == 6


def test_dpo_long_reply_is_cut_and_both_replies_alike(tpl, tok):
    # prompt 32 * 2 < 70: prompt whole, replies cut to 70 - 32 = 38 (the chosen loses its end-of-turn)
    row = {**PAIR, "chosen": [{"role": "assistant", "content": "a" * 40}]}
    cols, stats, _ = run(tpl, tok, [row], stage="dpo", cutoff_len=70)
    assert cols["prompt_ids"] == [PROMPT_IDS]
    assert cols["chosen_ids"] == [ords("a" * 38)] and cols["rejected_ids"] == [[*ords("No"), E]]
    assert stats.truncated == 1 and stats.lengths == [32 + 38 + 32 + 3]


def test_orpo_both_cut_in_proportion_with_labels_on_the_kept_reply(tpl, tok):
    # prompt 11 + 58 + 11 = 80, reply 60, cutoff 100: reply int(100 * 60 / 140) = 42, prompt 58 = 47 + header
    row = {
        "prompt": [SYS, {"role": "user", "content": "u" * 50}],
        "chosen": [{"role": "assistant", "content": "a" * 59}],
        "rejected": [{"role": "assistant", "content": "b"}],
    }
    cols, stats, _ = run(tpl, tok, [row], stage="orpo", cutoff_len=100)
    prompt = [*SYSTEM, 128, *ords("user\n" + "u" * 30), *header()]
    assert len(prompt) == 58 and cols["prompt_input_ids"] == [prompt]
    assert cols["chosen_input_ids"] == [[*prompt, *ords("a" * 42)]]
    assert cols["chosen_labels"] == [[X] * 58 + ords("a" * 42)]
    assert cols["rejected_labels"] == [[X] * 58 + [ord("b"), E]]
    assert stats.truncated == 1


def test_kto_completion_is_cut_by_the_same_rule(tpl, tok):
    row = {
        "prompt": PAIR["prompt"],
        "completion": [{"role": "assistant", "content": "a" * 40}],
        "label": True,
    }
    cols, stats, _ = run(tpl, tok, [row], stage="kto", cutoff_len=70)
    assert cols == {"prompt_ids": [PROMPT_IDS], "completion_ids": [ords("a" * 38)], "label": [True]}
    assert stats.truncated == 1


def test_a_row_left_with_no_reply_token_is_dropped(tpl, tok):
    cols, stats, _ = run(tpl, tok, [PAIR], stage="dpo", cutoff_len=1)
    assert cols["prompt_ids"] == [] and (stats.too_long, stats.truncated) == (1, 0)
