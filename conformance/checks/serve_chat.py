"""Serve smoke: the merged tiny export answers through dayzero's OpenAI-compatible server and stops
at the end-of-turn token.

A random tiny model never chooses to stop, so the reply is scripted with a logits processor (the
back end's hook for this): a few text tokens, then the family's end-of-turn token, then more text.
A server that stops at end-of-turn returns exactly the text, `finish_reason: stop`, and no
end-of-turn text; one that does not runs on into `length`.
"""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..result import Outcome
from .base import check
from .train import sdk_run

MAX_TOKENS = 24


def _script_factory(script: list[int]) -> Any:
    """A processor factory forcing ``script`` token by token, whatever the model would say."""

    def factory(prompt_ids: list[int]) -> list[Any]:
        start = len(prompt_ids)

        def force(input_ids: Any, scores: Any) -> Any:
            step = input_ids.shape[-1] - start
            token = script[min(step, len(script) - 1)]
            forced = scores.new_full(scores.shape, float("-inf"))
            forced[..., token] = 0.0
            return forced

        return [force]

    return factory


def _read_stream(text: str) -> tuple[str, str | None]:
    """The content and last finish_reason of an SSE chat stream."""
    import json

    content, finish = [], None
    for line in text.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        for choice in json.loads(line[6:]).get("choices", []):
            content.append(choice.get("delta", {}).get("content") or "")
            finish = choice.get("finish_reason") or finish
    return "".join(content), finish


@check("serve.chat", "the exported tiny model answers through the OpenAI-compatible server (plain and streamed) and "
       "stops at end-of-turn")
def chat(ctx: Context) -> Outcome:
    from fastapi.testclient import TestClient
    from transformers import AutoTokenizer

    from dayzero.sdk.serve import create_app, load_service

    result = sdk_run(ctx, "lora")
    export_dir = result.export_dir
    tok = AutoTokenizer.from_pretrained(str(export_dir))
    text_ids = tok.encode(" Paris is lovely", add_special_tokens=False)
    eot = ctx.family.tokenizer.end_of_turn[0]
    eot_id = tok.convert_tokens_to_ids(eot)
    tail = tok.encode(" and more", add_special_tokens=False)
    messages = [{"role": "user", "content": "Say something about Paris."}]
    # A generation prompt that opens the reasoning block (`<think>\n`, DeepSeek-R1-Distill-Llama) puts the output
    # inside it: the scripted answer closes it first, else the whole answer is (unfinished) reasoning.
    close = _prompt_opens_reasoning(ctx, messages)
    close_ids = tok.encode(close + "\n\n", add_special_tokens=False) if close else []
    script = [*close_ids, *text_ids, eot_id, *tail]
    # the export records the family view it was trained with: no registry lookup (nor a global swap) here
    service = load_service(str(export_dir), logits_processor_factory=_script_factory(script))
    request = {"max_tokens": MAX_TOKENS, "temperature": 0,
               "messages": messages}
    with TestClient(create_app(service)) as client:
        models = client.get("/v1/models").json()
        request["model"] = models["data"][0]["id"]
        resp = client.post("/v1/chat/completions", json=request)
        stream = client.post("/v1/chat/completions", json={**request, "stream": True})
    body = resp.json()
    problems = []
    if resp.status_code != 200:
        return Outcome(False, f"HTTP {resp.status_code}: {str(body)[:300]}", {"status": resp.status_code})
    choice = body["choices"][0]
    content = choice["message"].get("content") or ""
    want = tok.decode(text_ids, skip_special_tokens=True)
    if choice.get("finish_reason") != "stop":
        problems.append(f"finish_reason {choice.get('finish_reason')!r}, expected 'stop' at {eot!r}")
    if content.strip() != want.strip():
        problems.append(f"content {content!r}, expected {want!r}")
    if eot in content:
        problems.append(f"end-of-turn text {eot!r} leaked into the content")
    streamed, stream_finish = _read_stream(stream.text)
    if stream.status_code != 200 or streamed != content or stream_finish != "stop":
        problems.append(f"streaming gave {streamed!r} / finish {stream_finish!r} (HTTP {stream.status_code}), "
                        f"not the same answer stopped at {eot!r}")
    used = body.get("usage", {}).get("completion_tokens")
    evidence = {"content": content, "finish_reason": choice.get("finish_reason"), "completion_tokens": used,
                "scripted_tokens_before_stop": len(close_ids) + len(text_ids) + 1, "closes_reasoning_first": close, "end_of_turn": eot,
                "stream": {"content": streamed, "finish_reason": stream_finish}}
    return Outcome(not problems, "; ".join(problems) or f"answered {content.strip()!r} and stopped at {eot!r}",
                   evidence)


def _prompt_opens_reasoning(ctx: Context, messages: list[dict[str, Any]]) -> str | None:
    """The reasoning close marker when the family's generation prompt ends inside an opened reasoning block."""
    reasoning = ctx.family.template.reasoning
    if str(getattr(reasoning.mode, "value", reasoning.mode)) == "none" or not reasoning.open or not reasoning.close:
        return None
    prompt = ctx.chat_template().render(messages, add_generation_prompt=True)
    return reasoning.close if prompt.rstrip().endswith(reasoning.open) else None
