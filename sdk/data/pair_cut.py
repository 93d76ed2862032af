"""How a preference or kto row longer than ``cutoff_len`` is cut (``data.truncation: cut``, the default).

LLaMA-Factory keeps such rows and cuts them by one rule (``infer_seqlen``); dayzero keeps them the same way so
a user's data is not silently thinned, with one change: the cut prompt keeps its generation header.
"""

from __future__ import annotations


def pair_lengths(prompt_len: int, reply_len: int, cutoff: int) -> tuple[int, int]:
    """(prompt tokens, reply tokens) kept of a preference/kto row longer than ``cutoff``: LLaMA-Factory's rule.

    The same split as LLaMA-Factory 0.9.5's ``infer_seqlen`` (``data/processor/processor_utils.py``), so a
    row is kept as it keeps it: a reply shorter than half the cutoff is kept whole and the prompt gets the
    rest; else a prompt shorter than half is kept whole and the reply gets the rest; else both are cut in
    proportion to their lengths. ``reply_len`` is the longest reply's (chosen and rejected are cut alike).
    """
    if reply_len * 2 < cutoff:
        most_reply = cutoff
    elif prompt_len * 2 < cutoff:
        most_reply = cutoff - prompt_len
    else:
        most_reply = int(cutoff * (reply_len / (prompt_len + reply_len)))
    n_reply = min(most_reply, reply_len)
    return min(max(cutoff - n_reply, 0), prompt_len), n_reply


def cut_prompt(prompt: list[int], keep: int, header: int) -> list[int]:
    """The prompt cut to ``keep`` tokens: its start, then its last ``header`` tokens (the generation header).

    LLaMA-Factory keeps ``prompt[:keep]``, which loses the assistant header (``<|im_start|>assistant\\n``) the
    reply follows at inference; here the start is kept as it keeps it, minus room for the header, so the reply
    is still trained right after its header. A header longer than ``keep`` keeps the header's own end.
    """
    if len(prompt) <= keep:
        return prompt
    if header >= keep:
        return prompt[len(prompt) - keep :] if keep else []
    return prompt[: keep - header] + prompt[len(prompt) - header :]
