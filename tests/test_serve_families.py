"""Every family in the registry serves: its tiny instance answers a chat and stops at each of its
end-of-turn tokens (`tokenizer.end_of_turn` and `serving.generation_eos`, the registry's facts).

The model is made to write "Hello world." then one stop token then more words; an answer that
contains the words after it (or the token's text), or ends for another reason, means that token does
not end generation.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from serve_script import script_factory

from dayzero import registry

pytestmark = pytest.mark.slow
# Remote-code families have no tiny instance to serve (tests/test_remote_code_families.py checks the refusal).
FAMILIES = [f for f in registry.families() if f.architecture.remote_code is None]


@pytest.mark.parametrize("family", FAMILIES, ids=[f.id for f in FAMILIES])
def test_family_serves_and_stops_at_each_end_token(family, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from dayzero.sdk.serve import load_service
    from dayzero.sdk.serve.schemas import ChatCompletionRequest
    from dayzero.sdk.tiny import save_tiny

    d = save_tiny(family, tmp_path / family.id)
    tok = AutoTokenizer.from_pretrained(str(d))
    stop_tokens = list(dict.fromkeys([*family.tokenizer.end_of_turn, *family.serving.generation_eos]))
    script = {"text": ""}
    svc = load_service(d, family=family.id, name="tiny",
                       logits_processor_factory=script_factory(tok, lambda _prompt: script["text"]))
    try:
        for stop in stop_tokens:
            script["text"] = f"Hello world.{stop} and more words"
            req = ChatCompletionRequest(model="tiny", messages=[{"role": "user", "content": "Say hello."}],
                                        max_tokens=40, temperature=0)
            choice = asyncio.run(svc.chat(req)).choices[0]
            assert (choice.message.content, choice.finish_reason) == ("Hello world.", "stop"), stop
    finally:
        svc.backend.close()
