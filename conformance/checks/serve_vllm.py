"""serve.vllm: the family's export served by real vLLM, from its own environment ($DAYZERO_VLLM_PYTHON).

vLLM cannot share dayzero's environment (it pins its own torch and transformers), so it runs as a
separate interpreter, launched with the very command `dayzero serve --backend vllm` builds. One server
per family, on a tiny instance whose head size vLLM's CPU attention accepts (`sdk/serve/vllm_tiny.py`),
LoRA-trained through the SDK and exported adapter-only (and merged, as the reference):

- the adapter export serves (`--enable-lora`), under the base's name and the adapter's;
- prompts: vLLM's `/tokenize` with `messages` (its chat renderer, the export's template) gives the ids of
  dayzero's own render for every battery case the family renders;
- the family's `tool_call_parser` reads a tool call the family's template writes (what the model would
  generate after the prompt), and its `reasoning_parser` splits a thinking answer the same way;
- LoRA: the adapter's next-token log-probabilities differ from the base's (vLLM's silent "adapter
  loaded, base answered" failure) and equal the merged export's, computed by transformers.

Without the environment the check is unavailable (not a pass). Severity warning: the CPU build does
not implement every architecture the CUDA build does, which says nothing about the family's facts.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ..context import Context
from ..result import NotApplicable, Outcome, Unavailable
from .base import check

STEPS = 6
LOGPROB_TOLERANCE = 2e-3  # fp32 on both sides; the base/adapter gap must be far above it
# Flags for the check's server only (appended to the built command): no torch.compile warm-up on CPU,
# fp32 so that the comparison with transformers is tight, and a short context for a small KV cache.
CHECK_FLAGS = ("--dtype", "float32", "--enforce-eager", "--max-model-len", "2048", "--max-num-seqs", "4")
SCRIPTED_CALL = {
    "id": "call00001",
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
}


def _python() -> str:
    from dayzero.sdk.serve.vllm_cmd import PYTHON_ENV

    python = os.environ.get(PYTHON_ENV)
    if not python or not Path(python).is_file():
        raise Unavailable(f"vLLM's environment (set {PYTHON_ENV}; `.ci/setup-vllm-env DIR` makes one)")
    return python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exports(ctx: Context) -> dict[str, Path]:
    """Train the vLLM-sized tiny instance with LoRA through the SDK; export adapter-only and merged."""
    from dayzero import sdk
    from dayzero.sdk.serve.vllm_tiny import vllm_tiny_overrides
    from dayzero.sdk.tiny import save_tiny

    root = ctx.workdir / "vllm"
    base = save_tiny(
        ctx.family,
        root / "base",
        chat_template=ctx.chat_template().to_jinja(),
        extra=vllm_tiny_overrides(ctx.family),
    )
    recipe = {
        "name": f"conformance-{ctx.family.id}-vllm",
        "model": {"id": str(base), "family": ctx.family.id},
        "data": {"datasets": ["identity"], "cutoff_len": 1024},
        "method": {"stage": "sft", "adapter": "lora", "r": 8, "alpha": 16, "target": "all-linear"},
        "train": {
            "learning_rate": 2e-2,
            "max_steps": STEPS,
            "batch_size": 2,
            "seed": 0,
            "report_to": "none",
            "save_steps": 1000,
            "output_dir": str(root / "run"),
        },
        "export": {"enabled": False},
        "sample": {"prompt": None},
    }
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        result = sdk.run(recipe, registry=ctx.registry)
        adapter = sdk.export(result.run_dir, out=root / "adapter", merge=False).out
        merged = sdk.export(result.run_dir, out=root / "merged", merge=True).out
    return {"base": base, "adapter": Path(adapter), "merged": Path(merged)}


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    resp = httpx.post(url, json=body, timeout=300)
    if resp.status_code != 200:
        raise RuntimeError(f"{url} answered HTTP {resp.status_code}: {resp.text[:300]}")
    return resp.json()


def _switch(ctx: Context, thinking: str | None) -> dict[str, Any]:
    r = ctx.family.template.reasoning
    return {r.switch: thinking == "on"} if thinking is not None and r.mode == "hybrid" and r.switch else {}


def _tokenize_battery(ctx: Context, url: str, model: str, tok: Any) -> tuple[list[str], list[str]]:
    """Battery cases whose vLLM prompt ids equal dayzero's render, and the mismatches (with where)."""
    from dayzero.sdk.templates.battery import cases
    from dayzero.sdk.templates.parity import applicable
    from dayzero.sdk.templates.types import served_messages

    tpl = ctx.chat_template()
    same, different = [], []
    for c in cases():
        if not applicable(tpl, c):
            continue
        try:
            text = tpl.render(
                served_messages(c.messages),
                tools=c.tools,
                add_generation_prompt=c.add_generation_prompt,
                thinking=c.thinking,
            )
        except Exception:  # the family's format refuses the case (one-call formats and parallel calls)
            continue
        ours = tok(text, add_special_tokens=False)["input_ids"]
        body: dict[str, Any] = {
            "model": model,
            "messages": _as_openai(c.messages),
            "add_generation_prompt": c.add_generation_prompt,
            "add_special_tokens": False,
            "chat_template_kwargs": _switch(ctx, c.thinking),
        }
        if c.tools:
            body["tools"] = c.tools
        try:
            theirs = _post(f"{url}/tokenize", body)["tokens"]
        except RuntimeError as exc:
            different.append(f"{c.id}: {exc}")
            continue
        if theirs == ours:
            same.append(c.id)
        else:
            at = next(
                (i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
                min(len(theirs), len(ours)),
            )
            different.append(
                f"{c.id}: ids differ at {at}: vLLM {tok.decode(theirs[at : at + 8])!r} vs dayzero "
                f"{tok.decode(ours[at : at + 8])!r}"
            )
    return same, different


def _as_openai(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as vLLM's API takes it: tool-call arguments as JSON strings (its request schema
    insists; its renderer turns them back into objects for the template), and an assistant's reasoning
    as `reasoning` (vLLM 0.32 reads that field and hands the template both it and `reasoning_content`)."""
    out = []
    for m in messages:
        if "reasoning_content" in m:
            m = {
                **{k: v for k, v in m.items() if k != "reasoning_content"},
                "reasoning": m["reasoning_content"],
            }
        calls = m.get("tool_calls")
        if calls:
            m = {
                **m,
                "tool_calls": [
                    {
                        **c,
                        "function": {
                            **c["function"],
                            "arguments": c["function"]["arguments"]
                            if isinstance(c["function"]["arguments"], str)
                            else json.dumps(c["function"]["arguments"]),
                        },
                    }
                    for c in calls
                ],
            }
        out.append(m)
    return out


def _generated(ctx: Context, messages: list[dict[str, Any]], **kw: Any) -> str:
    """What the model writes for the last assistant message: the full render minus the prompt, minus end-of-turn."""
    tpl = ctx.chat_template()
    full = tpl.render(messages, **kw)
    prompt = tpl.render(messages[:-1], add_generation_prompt=True, **kw)
    if not full.startswith(prompt):
        raise NotApplicable("the template does not render the prompt as a prefix of the answer")
    text = full[len(prompt) :]
    for stop in sorted(tpl.stop_strings, key=len, reverse=True):
        if text.rstrip().endswith(stop):
            text = text.rstrip()[: -len(stop)]
            break
    return text


def _thinking_answer(ctx: Context, user: dict[str, Any], answer: dict[str, Any], thinking: str | None) -> str:
    """What the model writes for a thinking answer after the generation prompt. Where the template strips
    reasoning from every rendered answer (R1: `history: strip`), the render holds none, so the text is the
    format's reasoning block and the content, less what the prompt already opened (R1-Llama's `<think>\n`)."""
    r = ctx.family.template.reasoning
    try:
        text: str | None = _generated(ctx, [user, answer], thinking=thinking)
    except NotApplicable:  # the prompt opens the block (`<think>\n`) that the stripped answer lacks
        text = None
    if text is None or (r.close and r.close not in text):
        block = r.block.replace("{open}", r.open or "").replace("{close}", r.close)
        block = block.replace("{reasoning}", answer["reasoning_content"])
        opened = r.on_prompt if ctx.chat_template().thinking_on(thinking) else r.off_prompt
        text = block.removeprefix(opened) + answer["content"]
    return text


def _parsers(ctx: Context, python: str, tokenizer_dir: Path) -> dict[str, Any]:
    """Run vLLM's parsers (in vLLM's interpreter) on a scripted tool call and a scripted thinking answer."""
    from dayzero.sdk.templates.battery import TOOLS

    serving = ctx.family.serving
    user = {"role": "user", "content": "Weather in Paris?"}
    spec: dict[str, Any] = {
        "tokenizer": str(tokenizer_dir),
        "tool_parser": None,
        "reasoning_parser": None,
        "tools": TOOLS,
        "tool_outputs": [],
        "reasoning_outputs": [],
    }
    from dayzero.sdk.serve.vllm_cmd import serves_tools

    caps = ctx.family.template.capabilities
    # the parser the command line enables (a tools layout): a family without one gets no --tool-call-parser
    if serves_tools(ctx.view()) and (caps is None or caps.tool_calls):
        spec["tool_parser"] = serving.tool_call_parser
        spec["tool_outputs"] = [
            _generated(
                ctx, [user, {"role": "assistant", "content": "", "tool_calls": [SCRIPTED_CALL]}], tools=TOOLS
            )
        ]
    if serving.reasoning_parser and ctx.family.template.reasoning.mode != "none":
        answer = {
            "role": "assistant",
            "content": "It is sunny.",
            "reasoning_content": "The user asks about Paris.",
        }
        thinking = "on" if ctx.family.template.reasoning.mode == "hybrid" else None
        spec["reasoning_parser"] = serving.reasoning_parser
        spec["reasoning_outputs"] = [_thinking_answer(ctx, user, answer, thinking)]
    if not spec["tool_parser"] and not spec["reasoning_parser"]:
        return {"spec": spec}
    probe = Path(__file__).resolve().parents[2] / "sdk" / "serve" / "vllm_parsers_probe.py"
    if not probe.is_file():  # installed layout: the package folder
        from dayzero.sdk.serve import vllm_parsers_probe

        probe = Path(vllm_parsers_probe.__file__)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        proc = subprocess.run([python, str(probe), f.name], capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        return {"spec": spec, "error": proc.stderr[-1500:]}
    return {"spec": spec, **json.loads(proc.stdout.strip().splitlines()[-1])}


def _parser_problems(parsed: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    spec, problems, evidence = parsed["spec"], [], {}
    if "error" in parsed:
        return [f"vLLM's parsers failed to run: {parsed['error'][-400:]}"], evidence
    if spec["tool_parser"]:
        got = parsed["tool_calls"][0]
        calls = [(c["name"], json.loads(c["arguments"])) for c in got["calls"]]
        ok = got["tools_called"] and calls == [("get_weather", {"city": "Paris"})]
        evidence["tool_call_parser"] = {
            "parser": spec["tool_parser"],
            "text": spec["tool_outputs"][0],
            "parsed": calls,
            "ok": ok,
        }
        if not ok:
            problems.append(f"tool parser {spec['tool_parser']!r} read {spec['tool_outputs'][0]!r} as {got}")
    if spec["reasoning_parser"]:
        got = parsed["reasoning"][0]
        ok = (got["reasoning"] or "").strip() == "The user asks about Paris." and (
            got["content"] or ""
        ).strip() == "It is sunny."
        evidence["reasoning_parser"] = {
            "parser": spec["reasoning_parser"],
            "text": spec["reasoning_outputs"][0],
            "parsed": got,
            "ok": ok,
        }
        if not ok:
            problems.append(
                f"reasoning parser {spec['reasoning_parser']!r} split {spec['reasoning_outputs'][0]!r} as {got}"
            )
    return problems, evidence


def _top_logprobs(url: str, model: str, prompt: list[int], k: int = 8) -> dict[int, float]:
    """vLLM's top-k next-token log-probs, keyed by token id (decoded strings of a tiny vocabulary collide)."""
    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": k,
        "return_tokens_as_token_ids": True,
    }
    top = _post(f"{url}/v1/completions", body)["choices"][0]["logprobs"]["top_logprobs"][0]
    return {int(key.removeprefix("token_id:")): float(v) for key, v in top.items()}


def _hf_logprobs(model_dir: Path, prompt: list[int]) -> list[float]:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0, -1].float()
    return [float(v) for v in torch.log_softmax(logits, -1)]


def _gap(a: dict[int, float], b: dict[int, float] | list[float]) -> float:
    """Largest |difference| over ``a``'s tokens (a token ``b`` does not list counts as infinitely far)."""
    if isinstance(b, list):
        return max(abs(v - b[i]) for i, v in a.items())
    return max((abs(v - b[i]) if i in b else float("inf")) for i, v in a.items())


@check(
    "serve.vllm",
    "vLLM serves the LoRA export: its prompt ids equal dayzero's render, its tool and reasoning "
    "parsers read the family's dialect, the adapter changes the answer as the merged export does",
    severity="warning",
)
def vllm_serve(ctx: Context) -> Outcome:
    if ctx.family.serving.vllm_architecture is None:
        raise NotApplicable("serving.vllm_architecture is null (vLLM has no implementation)")
    ctx.require_class()  # the vLLM-sized tiny instance is the real class
    python = _python()
    from transformers import AutoTokenizer

    from dayzero.sdk.serve import find_target
    from dayzero.sdk.serve.vllm_cmd import vllm_command, vllm_launcher
    from dayzero.sdk.serve.vllm_launch import VllmServer

    exports = ctx.once("vllm:exports", lambda: _exports(ctx))
    target = find_target(exports["adapter"], family=ctx.family.id, name="lora")
    port = _free_port()
    cmd = vllm_command(target, port=port, launcher=vllm_launcher(python), extra=CHECK_FLAGS)
    tok = AutoTokenizer.from_pretrained(str(exports["adapter"]))
    problems: list[str] = []
    started = time.monotonic()
    with VllmServer(cmd, host="127.0.0.1", port=port) as server:
        url = server.base_url
        names = sorted(
            m["id"] for m in __import__("httpx").get(f"{url}/v1/models", timeout=60).json()["data"]
        )
        base_name = target.model_dir.name
        if names != sorted([base_name, "lora"]):
            problems.append(
                f"/v1/models lists {names}, expected the base {base_name!r} and the adapter 'lora'"
            )
        same, different = _tokenize_battery(ctx, url, base_name, tok)
        problems += [f"/tokenize {d}" for d in different]
        if not same:
            problems.append("no battery case was tokenized")
        prompt = tok(
            ctx.chat_template().render(
                [{"role": "user", "content": "Say something about Paris."}], add_generation_prompt=True
            ),
            add_special_tokens=False,
        )["input_ids"]
        base_lp = _top_logprobs(url, base_name, prompt)
        lora_lp = _top_logprobs(url, "lora", prompt)
        startup = server.startup_s
    merged_lp = _hf_logprobs(exports["merged"], prompt)
    base_gap = _gap(lora_lp, base_lp)
    merged_gap = _gap(lora_lp, merged_lp)
    if base_gap <= 10 * LOGPROB_TOLERANCE:
        problems.append(
            f"the adapter's log-probs equal the base's (max gap {base_gap:.2e}): the adapter was not applied"
        )
    if merged_gap > LOGPROB_TOLERANCE:
        problems.append(
            f"the adapter's log-probs differ from the merged export's by {merged_gap:.2e} "
            f"(tolerance {LOGPROB_TOLERANCE:g})"
        )
    parsed = _parsers(ctx, python, exports["adapter"])
    parser_problems, parser_evidence = _parser_problems(parsed)
    problems += parser_problems
    evidence = {
        "vllm": parsed.get("vllm") or _vllm_version(python),
        "command": [
            c if not c.startswith(str(ctx.workdir)) else c.replace(str(ctx.workdir), "<workdir>")
            for c in cmd
            if c != python
        ],
        "startup_s": round(startup or 0.0, 1),
        "check_s": round(time.monotonic() - started, 1),
        "models": names,
        "tokenize_same": same,
        "tokenize_different": different,
        "lora": {
            "base_vs_adapter_max_gap": round(min(base_gap, 1e9), 4),
            "adapter_vs_merged_max_gap": float(f"{merged_gap:.2e}"),
        },
        **parser_evidence,
    }
    summary = "; ".join(problems) or (
        f"vLLM {evidence['vllm']} served the adapter export: {len(same)} battery prompts tokenized as dayzero renders "
        f"them, parsers {sorted(k for k in parser_evidence)} read the family's output, LoRA "
        + ("changes the top tokens" if base_gap == float("inf") else f"moves log-probs by {base_gap:.2g}")
        + f" and matches the merged export to {merged_gap:.1e}"
    )
    return Outcome(not problems, summary, evidence)


def _vllm_version(python: str) -> str | None:
    proc = subprocess.run(
        [python, "-c", "import vllm; print(vllm.__version__)"], capture_output=True, text=True, timeout=300
    )
    return proc.stdout.strip() or None
