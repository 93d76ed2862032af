"""`response_format`: never silently ignored. The hf back end has no constrained decoding, so JSON mode and
JSON schema are a 400 naming the parameter (vLLM implements them: `--backend vllm`); plain text is served."""

from __future__ import annotations

from pathlib import Path

import pytest

from dayzero import registry


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    from fastapi.testclient import TestClient

    from dayzero.sdk.serve import create_app, load_service
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.tiny import save_tiny

    family = registry.get("qwen2")
    d = save_tiny(
        family,
        Path(tmp_path_factory.mktemp("rf")) / "m",
        chat_template=ChatTemplate.for_family(family).to_jinja(),
    )
    service = load_service(str(d), family="qwen2", name="tiny")
    with TestClient(create_app(service)) as c:
        yield c
    service.backend.close()


BODY = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "temperature": 0}


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    ],
)
def test_json_modes_are_refused_not_ignored(client, fmt: dict) -> None:
    resp = client.post("/v1/chat/completions", json={**BODY, "response_format": fmt})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["param"] == "response_format" and "--backend vllm" in err["message"]


def test_plain_text_format_is_served(client) -> None:
    resp = client.post("/v1/chat/completions", json={**BODY, "response_format": {"type": "text"}})
    assert resp.status_code == 200
