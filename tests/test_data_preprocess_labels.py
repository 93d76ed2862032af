"""The preprocessor's labels (found at span boundaries) against the per-token rule of `templates.encode`.

`dayzero.sdk.templates.encode.encode_text` labels each token from the offset mapping of the whole text (a
token is trained when any of its characters is); the preprocessor asks the encoding only at each trained
range's boundaries. On a small byte-level BPE (`sdk.tiny`), where accented letters, CJK and emoji split into
several tokens that share one character, both must give the same labels, for several families' templates,
with and without truncation.
"""

from __future__ import annotations

import random

import pytest

from dayzero import registry
from dayzero.sdk.data.preprocess import Options, Preprocessor
from dayzero.sdk.data.problems import Origin
from dayzero.sdk.templates import ChatTemplate
from dayzero.sdk.templates.encode import encode_text, select_trained, trained_ranges
from dayzero.sdk.tiny import tiny_tokenizer

PIECES = ["hello", " world", "é", "naïve", "東京", "🙂", "👍🏽", " ", "\n", "a\u0301", "42", "ü", "  x", "?!"]


def conversations(n: int, seed: int) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)

    def text() -> str:
        return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))

    out = []
    for _ in range(n):
        conv = [{"role": "system", "content": text()}] if rng.random() < 0.5 else []
        for _ in range(rng.randint(1, 3)):
            conv += [{"role": "user", "content": text()}, {"role": "assistant", "content": text()}]
        out.append(conv)
    return out


@pytest.mark.parametrize("family", ["qwen2", "llama3", "mistral", "phi3"])
def test_boundary_labels_equal_the_per_token_rule(family: str) -> None:
    fam = registry.get(family)
    tok, tpl = tiny_tokenizer(fam), ChatTemplate.for_family(fam)
    convs = [c for c in conversations(60, seed=len(family)) if family != "mistral" or c[0]["role"] != "system"]
    cols, stats, problems = Preprocessor(tpl, tok, Options("sft", 10**6))([(Origin("t", i), {"messages": c})
                                                                              for i, c in enumerate(convs)])
    assert not problems and stats.rows_kept == len(convs)
    for conv, ids, labels in zip(convs, cols["input_ids"], cols["labels"], strict=True):
        segments = tpl.segments(conv)
        text = "".join(s.text for s in segments)
        expected = encode_text(text, trained_ranges(segments, select_trained(segments)), tok)
        assert (ids, labels) == (expected.input_ids, expected.labels)


def test_cut_rows_are_prefixes_with_the_same_labels() -> None:
    fam = registry.get("qwen2")
    tok, tpl = tiny_tokenizer(fam), ChatTemplate.for_family(fam)
    convs = conversations(40, seed=7)
    items = [(Origin("t", i), {"messages": c}) for i, c in enumerate(convs)]
    whole, _, _ = Preprocessor(tpl, tok, Options("sft", 10**6))(items)
    cutoff = sorted(map(len, whole["input_ids"]))[len(convs) // 2]  # the median row: half of them are cut
    cut, stats, _ = Preprocessor(tpl, tok, Options("sft", cutoff))(items)
    assert stats.truncated > 0 and stats.rows_kept + stats.too_long == len(convs)
    kept = iter(zip(cut["input_ids"], cut["labels"], strict=True))
    for ids, labels in zip(whole["input_ids"], whole["labels"], strict=True):
        if any(t != -100 for t in labels[:cutoff]):  # a trained token within the cutoff: the row is kept, cut
            assert next(kept) == (ids[:cutoff], labels[:cutoff])
    assert next(kept, None) is None
