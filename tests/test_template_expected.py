"""llama.cpp's chat-template test cases (shared/reference/llama.cpp/chat-template-expected.json).

1. Every case whose plain-Jinja render is known to equal llama.cpp's expectation is reproduced exactly
   by `render_official`; the `ERROR:` cases raise.
2. Where a registry format corresponds to a case, the structured renderer of that format, and its
   generated Jinja, reproduce the expected string too.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from dayzero import registry
from dayzero.errors import TemplateError
from dayzero.sdk.templates import ChatTemplate, render_official


def _data(reference_dir: Path) -> dict[str, Any]:
    return json.loads((reference_dir / "llama.cpp/chat-template-expected.json").read_text(encoding="utf-8"))


def _cases(reference_dir: Path, flag: Any) -> list[dict[str, Any]]:
    return [c for c in _data(reference_dir)["cases"] if c["check_python_jinja2_matches_expected"] == flag
            or (flag == "ERROR" and str(c["check_python_jinja2_matches_expected"]).startswith("ERROR"))]


def _render(case: dict[str, Any]) -> str:
    return render_official(case["template_str"], case["messages"], add_generation_prompt=case["add_generation_prompt"],
                           bos_token=case["bos_token"], eos_token=case["eos_token"])


def test_matching_cases_render_exactly(reference_dir: Path) -> None:
    cases = _cases(reference_dir, True)
    assert len(cases) >= 20
    for case in cases:
        assert _render(case) == case["expected"], case["template_name_or_file"]


def test_error_cases_raise(reference_dir: Path) -> None:
    cases = _cases(reference_dir, "ERROR")
    assert cases
    for case in cases:
        flag = str(case["check_python_jinja2_matches_expected"])
        message = flag.split("E: ", 1)[1] if "E: " in flag else flag.split("Error: ", 1)[1]
        with pytest.raises(TemplateError, match=re.escape(message)):
            _render(case)


def test_polyfilled_cases_differ_from_plain_jinja(reference_dir: Path) -> None:
    """llama.cpp merges a system message the template drops (Phi-3-mini...): plain Jinja does not."""
    cases = _cases(reference_dir, False)
    assert cases, "no polyfilled cases in the reference file: the check would prove nothing"
    rendered = 0
    for case in cases:
        with contextlib.suppress(TemplateError):
            text = _render(case)
            rendered += 1
            assert text != case["expected"], case["template_name_or_file"]
    # a template that raises says nothing about the polyfill: most must render for the check to mean something
    assert rendered * 2 > len(cases), f"only {rendered} of {len(cases)} polyfilled cases render"


# llama.cpp case -> the registry format that claims to render it
FORMAT_OF_CASE = {
    "teknium/OpenHermes-2.5-Mistral-7B": "chatml",
    "Llama-3": "llama3-0",
    "Phi-3-small": "phi3",
    "Phi-3-vision": "phi3",
    "ChatGLM4": "glm4",
    "phi-4": "phi4",
    "Mistral-Nemo-Instruct-2407 (mistralai 'v3-tekken' template; modified to have system prompt at start)": "mistral-tekken",
    "mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template)": "mistral-v7-spm",
    "google/gemma-7b-it": "gemma",
}


@pytest.mark.parametrize("case_name", sorted(FORMAT_OF_CASE))
def test_registry_format_reproduces_case(case_name: str, reference_dir: Path) -> None:
    case = next(c for c in _data(reference_dir)["cases"] if c["template_name_or_file"] == case_name)
    fmt = registry.formats()[FORMAT_OF_CASE[case_name]]
    tpl = ChatTemplate.from_format(fmt, bos_token=case["bos_token"], eos_token=case["eos_token"])
    jinja = tpl.to_jinja()
    kwargs = {"add_generation_prompt": case["add_generation_prompt"]}
    if str(case["check_python_jinja2_matches_expected"]).startswith("ERROR"):
        with pytest.raises(TemplateError):
            tpl.render(case["messages"], **kwargs)
        with pytest.raises(TemplateError):
            render_official(jinja, case["messages"], **kwargs)
        return
    assert tpl.render(case["messages"], **kwargs) == case["expected"]
    assert render_official(jinja, case["messages"], bos_token=case["bos_token"], eos_token=case["eos_token"],
                           **kwargs) == case["expected"]


BUILTIN_FORMAT = {"chatml": "chatml", "llama3": "llama3-0", "mistral-v7": "mistral-v7-spm"}


def test_builtin_single_message_formats(reference_dir: Path) -> None:
    """llama.cpp's named formats: a system message alone, and the delta one user turn adds."""
    builtin = _data(reference_dir)["builtin_single_message_cases"]["cases"]
    system = {"role": "system", "content": "You are a helpful assistant"}
    past = [system, {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "I am assistant"}]
    new = {"role": "user", "content": "How are you"}
    checked = 0
    for case in builtin:
        name = BUILTIN_FORMAT.get(case["builtin_template_name"])
        if name is None:
            continue
        tpl = ChatTemplate.from_format(registry.formats()[name])
        if case["kind"] == "fmt_sys":
            assert tpl.render([system]) == case["expected"], name
        elif name != "chatml":  # llama.cpp's chatml delta starts with a newline of its own incremental formatter
            before, after = tpl.render(past), tpl.render([*past, new], add_generation_prompt=True)
            assert after.startswith(before) and after[len(before):] == case["expected"], name
        checked += 1
    assert checked == 6
