"""Schema properties, checked with hypothesis over mutated family entries."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dayzero import registry
from dayzero.registry.exchange import json_schema
from dayzero.registry.schema import Family

ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
texts = st.text(min_size=1, max_size=30)
tokens = st.lists(texts, min_size=1, max_size=4)


def _base() -> dict:
    return registry.get("qwen2").model_dump(mode="json", by_alias=True)


@settings(max_examples=60, deadline=None)
@given(fid=ids, name=texts, revision=st.integers(1, 10_000), eot=tokens, special=st.lists(texts, max_size=5),
       add_bos=st.booleans(), bos=st.one_of(st.none(), texts))
def test_valid_entries_round_trip(fid, name, revision, eot, special, add_bos, bos):
    data = _base()
    data.update(id=fid, name=name, revision=revision)
    data["tokenizer"].update(end_of_turn=eot, special=special, bos=bos, add_bos=add_bos and bos is not None)
    family = Family.model_validate(data)
    again = Family.model_validate_json(json.dumps(family.model_dump(mode="json", by_alias=True)))
    assert again == family
    assert set(family.tokenizer.all_special()) >= set(eot)


@settings(max_examples=40, deadline=None)
@given(revision=st.integers(max_value=0))
def test_revision_must_be_positive(revision):
    data = _base()
    data["revision"] = revision
    with pytest.raises(ValidationError, match="revision"):
        Family.model_validate(data)


@settings(max_examples=40, deadline=None)
@given(bad=st.from_regex(r"[A-Z !@#$%^&*()]{1,10}", fullmatch=True))
def test_ids_are_lower_case_slugs(bad):
    data = _base()
    data["id"] = bad
    with pytest.raises(ValidationError):
        Family.model_validate(data)


def test_add_bos_without_bos_is_rejected():
    data = _base()
    data["tokenizer"].update(bos=None, add_bos=True)
    with pytest.raises(ValidationError, match="add_bos"):
        Family.model_validate(data)


def test_fused_and_split_attention_are_exclusive():
    data = _base()
    data["architecture"]["attention"]["qkv"] = "self_attn.qkv_proj"
    with pytest.raises(ValidationError, match="choose one"):
        Family.model_validate(data)


def test_json_schema_documents_every_field():
    schema = json_schema()
    family = schema["$defs"]["Family"]
    assert {"id", "revision", "tokenizer", "template", "architecture", "serving"} <= set(family["properties"])

    def undocumented(node, path=""):
        out = []
        if isinstance(node, dict):
            for key, prop in (node.get("properties") or {}).items():
                if "description" not in prop and "$ref" not in prop and "allOf" not in prop:
                    out.append(f"{path}.{key}")
            for key, sub in node.items():
                out += undocumented(sub, f"{path}/{key}")
        elif isinstance(node, list):
            for sub in node:
                out += undocumented(sub, path)
        return out

    # Every leaf field of the tokenizer section carries a description (the one source of docs).
    tok = schema["$defs"]["Tokenizer"]
    assert not undocumented({"properties": tok["properties"]})
