"""Token boundaries from byte lengths (`sdk/data/byte_spans.py`) are the offset mapping's, or not used at all.

The oracle is the Rust tokenizer's own offset mapping (``encode_batch``), which the preprocessing path
without the shortcut reads; the shortcut must give the same token ends, the same ids and labels, and must
refuse every tokenizer whose offsets a running byte sum would not reproduce.
"""

from __future__ import annotations

import pytest

from dayzero import registry
from dayzero.sdk.data import byte_spans
from dayzero.sdk.data import preprocess as pp
from dayzero.sdk.data.byte_spans import ByteLengths, FastRows
from dayzero.sdk.data.problems import Origin
from dayzero.sdk.data.testing import char_tokenizer
from dayzero.sdk.templates import ChatTemplate

TEXTS = ["Hello world, the river runs.\n\n", "<|im_start|>user\nHi there<|im_end|>\n", "  spaces   and\ttabs 123 4567",
         ""]


@pytest.fixture(scope="module")
def tok():
    from dayzero.sdk.tiny import tiny_tokenizer

    return tiny_tokenizer(registry.get("qwen2"))


@pytest.fixture(scope="module")
def tpl():
    return ChatTemplate.for_family(registry.get("qwen2"))


def _copy(tok):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tok.backend_tokenizer.to_str())


def test_running_byte_sums_are_the_offset_mapping(tok):
    backend = tok.backend_tokenizer
    lengths = ByteLengths.of(backend)
    assert lengths is not None
    fast = [e.ids for e in backend.encode_batch_fast(TEXTS, add_special_tokens=False)]
    exact = backend.encode_batch(TEXTS, add_special_tokens=False)
    assert fast == [e.ids for e in exact]
    rows = FastRows(fast, lengths, [len(t) for t in TEXTS])
    assert rows.ok == [True] * len(TEXTS)
    for r, enc in enumerate(exact):
        a, b = rows.firsts[r], rows.first[r + 1]
        assert [int(e) - rows.base[r] for e in rows.ends[a:b]] == [end for _, end in enc.offsets]
        ends = [end for _, end in enc.offsets]
        assert [s for s, _ in enc.offsets] == [0, *ends][: len(ends)]  # contiguous spans


def test_special_tokens_count_their_own_text(tok):
    lengths = ByteLengths.of(tok.backend_tokenizer)
    for token in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert lengths.table[tok.convert_tokens_to_ids(token)] == len(token)


def _refused(backend) -> bool:
    return ByteLengths.of(backend) is None


def test_tokenizers_whose_offsets_are_not_running_sums_are_refused(tok):
    from tokenizers import AddedToken, normalizers, pre_tokenizers, processors

    assert not _refused(_copy(tok))
    assert _refused(char_tokenizer(["<|im_end|>"], eos="<|im_end|>").backend_tokenizer)  # WordLevel, Split only
    trimmed = _copy(tok)
    trimmed.post_processor = processors.ByteLevel(trim_offsets=True)
    assert _refused(trimmed)
    prefixed = _copy(tok)
    prefixed.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    assert _refused(prefixed)
    lowered = _copy(tok)
    lowered.normalizer = normalizers.Lowercase()
    assert _refused(lowered)
    removing = _copy(tok)
    removing.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(" ", behavior="removed"),
                                                      pre_tokenizers.ByteLevel(add_prefix_space=False)])
    assert _refused(removing)
    stripping = _copy(tok)
    stripping.add_special_tokens([AddedToken("<tool>", lstrip=True)])
    assert _refused(stripping)
    kept = _copy(tok)
    kept.normalizer = normalizers.NFC()
    assert not _refused(kept)


ROWS = [
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where does the river run?"},
     {"role": "assistant", "content": "Through the old city, under every bridge."},
     {"role": "user", "content": "And then?"}, {"role": "assistant", "content": "To the sea, before the night."}],
    [{"role": "user", "content": "Grüße aus Köln, 東京 too"}, {"role": "assistant", "content": "Danke schön — ありがとう."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  leading and trailing spaces  \n"}],
    [{"role": "user", "content": "x" * 40}, {"role": "assistant", "content": "y " * 60}],
]


def _run(tpl, tok, options, lengths="auto"):
    pre = pp.Preprocessor(tpl, tok, options)
    if lengths != "auto":
        pre.byte_lengths = lengths
    items = [(Origin("t.jsonl", i + 1), {"messages": m}) for i, m in enumerate(ROWS)]
    return pre(items)


@pytest.mark.parametrize(("cutoff", "truncation"), [(4096, "cut"), (40, "cut"), (40, "turns"), (40, "drop")])
def test_sft_rows_are_the_same_with_and_without_offsets(tpl, tok, cutoff, truncation, monkeypatch):
    options = pp.Options("sft", cutoff, truncation=truncation)
    exact = _run(tpl, tok, options, lengths=None)
    made: list[FastRows] = []

    class Counting(FastRows):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(pp, "FastRows", Counting)
    fast = _run(tpl, tok, options)
    assert made and len(made[0].ok) == 3  # the three ASCII rows took the shortcut, the unicode row did not
    assert fast[0] == exact[0]
    assert fast[1] == exact[1]


def test_a_row_whose_lengths_do_not_add_up_takes_the_offsets(tpl, tok):
    good = ByteLengths.of(tok.backend_tokenizer)
    table = good.table.copy()
    table[tok.convert_tokens_to_ids("<|im_end|>")] += 1  # every row holds one: none adds up
    options = pp.Options("sft", 4096)
    exact = _run(tpl, tok, options, lengths=None)
    assert _run(tpl, tok, options, lengths=byte_spans.ByteLengths(table))[0] == exact[0]
    ids = [[tok.convert_tokens_to_ids("<|im_end|>")]]
    assert FastRows(ids, byte_spans.ByteLengths(table), [len("<|im_end|>")]).ok == [False]
