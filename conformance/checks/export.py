"""Export parity: the merged export's logits equal base + adapter, and the saved tokenizer and
generation_config agree with the template's stop set.

The SDK's export verifies logits itself; this check measures them again, independently (peft's
unmerged adapter on the run's base vs the reloaded merged export), so a bug in the export's own
verification cannot pass silently.
"""

from __future__ import annotations

import json
from typing import Any

from ..context import Context
from ..result import Outcome
from .base import check
from .train import sdk_run

TOLERANCE = 1e-4  # fp32 tiny merges measure ~4e-7 (STACK-NOTES)


@check("export.merged-logits", "merged export logits equal base + adapter")
def merged_logits(ctx: Context) -> Outcome:
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = sdk_run(ctx, "lora")
    final, export_dir = result.run_dir / "final", result.export_dir
    tok = AutoTokenizer.from_pretrained(str(export_dir))
    text = ctx.chat_template().render([{"role": "user", "content": "Hello there"},
                                       {"role": "assistant", "content": "General Kenobi."}])
    batch = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        if ctx.family.vision is not None:  # a VLM: its own auto class for the base and the merged export
            import transformers
            from peft import PeftModel

            auto = getattr(transformers, ctx.family.vision.processor.auto_class)
            base_dir = json.loads((final / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]
            adapter = PeftModel.from_pretrained(auto.from_pretrained(base_dir, dtype=torch.float32), str(final)).eval()
            merged = auto.from_pretrained(str(export_dir), dtype=torch.float32).eval()
        else:
            adapter = AutoPeftModelForCausalLM.from_pretrained(str(final), dtype=torch.float32).eval()
            merged = AutoModelForCausalLM.from_pretrained(str(export_dir), dtype=torch.float32).eval()
        a, b = adapter(**batch).logits, merged(**batch).logits
        with adapter.disable_adapter():
            base = adapter(**batch).logits
    diff = float((a - b).abs().max())
    # An adapter that changes nothing would make "merged == base + adapter" true of the untouched base.
    effect = float((a - base).abs().max())
    sdk_report = json.loads((export_dir / "dayzero_export.json").read_text(encoding="utf-8"))
    ok = diff <= TOLERANCE and effect > 100 * TOLERANCE
    summary = (f"max |logit diff| {diff:.2e} (tolerance {TOLERANCE:g}; the SDK measured "
               f"{sdk_report.get('max_logit_diff')}); the adapter moves logits by {effect:.2e}")
    if effect <= 100 * TOLERANCE:
        summary = f"the trained adapter does not change the logits (max {effect:.2e}): nothing to compare"
    return Outcome(ok, summary, {"max_logit_diff_below": TOLERANCE if diff <= TOLERANCE else None,
                                 "adapter_changes_logits": effect > 100 * TOLERANCE,
                                 "tokens": int(batch["input_ids"].shape[1])})


def _eos_ids(gen: dict[str, Any]) -> list[int]:
    eos = gen.get("eos_token_id")
    return [eos] if isinstance(eos, int) else list(eos or [])


@check("export.stop-set", "the saved tokenizer and generation_config agree with the template's stop set")
def stop_set(ctx: Context) -> Outcome:
    from transformers import AutoTokenizer

    result = sdk_run(ctx, "lora")
    export_dir = result.export_dir
    tok = AutoTokenizer.from_pretrained(str(export_dir))
    gen = json.loads((export_dir / "generation_config.json").read_text(encoding="utf-8"))
    vocab = tok.get_vocab()
    fam = ctx.family
    problems = []
    stops = {t: vocab.get(t) for t in fam.tokenizer.end_of_turn}
    eos_ids = _eos_ids(gen)
    missing = [t for t, i in stops.items() if i is None or i not in eos_ids]
    if missing:
        problems.append(f"generation_config eos ids {eos_ids} lack end-of-turn {missing}")
    gen_missing = [t for t in fam.serving.generation_eos if vocab.get(t) not in eos_ids]
    if gen_missing:
        problems.append(f"generation_config eos ids lack serving.generation_eos {gen_missing}")
    if tok.eos_token != fam.tokenizer.eos:
        problems.append(f"saved eos_token {tok.eos_token!r}, entry says {fam.tokenizer.eos!r}")
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    saved = tok.apply_chat_template(msgs, tokenize=False) if tok.chat_template else None
    ours = ctx.chat_template().render(msgs)
    if saved != ours:
        problems.append("the saved chat template renders a conversation differently from the family's template")
    tpl_stops = [s for s in ctx.chat_template().stop_strings if s in vocab]
    not_stopping = [s for s in tpl_stops if vocab[s] not in eos_ids]
    if not_stopping:
        problems.append(f"template stop strings {not_stopping} are tokens but not generation eos ids")
    evidence = {"eos_token": tok.eos_token, "generation_eos": sorted(t for t, i in vocab.items() if i in eos_ids),
                "end_of_turn": sorted(stops), "template_renders_same": saved == ours}
    return Outcome(not problems, "; ".join(problems) or "tokenizer, generation_config and template agree on stops",
                   evidence)
