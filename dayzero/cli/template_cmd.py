"""`dayzero template ...`: render, encode, export and check a family's chat template.

Heavy imports (transformers for tokenizers) happen inside the commands that need them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from dayzero.cli import app
from dayzero.errors import DayzeroError, TemplateError, Where

template_app = typer.Typer(help="Render, encode, export and check chat templates.", no_args_is_help=True)
app.add_typer(template_app, name="template")

MessagesOpt = Annotated[Path, typer.Option("--messages", help="JSON file: a list of messages, or {messages, tools}.")]
ToolsOpt = Annotated[Path | None, typer.Option("--tools", help="JSON file: a list of OpenAI-style tools.")]
ThinkingOpt = Annotated[str | None, typer.Option("--thinking", help="on | off | keep (default: the family's).")]


def _conversation(messages: Path, tools: Path | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    from dayzero.yamlio import read_json

    data = read_json(messages, TemplateError)
    tool_list = None
    if isinstance(data, dict):
        tool_list = data.get("tools")
        data = data.get("messages")
    if not isinstance(data, list):
        raise TemplateError("expected a list of messages (or an object with `messages`)",
                            where=Where(file=str(messages), field="messages"))
    if tools is not None:
        tool_list = read_json(tools, TemplateError)
        if not isinstance(tool_list, list):
            raise TemplateError("expected a list of tools", where=Where(file=str(tools)))
    return data, tool_list or None


def _reference_root() -> Path:
    env = os.environ.get("DAYZERO_REFERENCE")
    if env:
        return Path(env)
    from dayzero import registry

    return registry.default().root.parent.parent / "shared" / "reference"


def _family_and_checkpoint(target: str) -> tuple[Any, str | None]:
    """A family id, a hub id (its checkpoint's overrides apply) or a model folder -> (Family, checkpoint id).

    A folder is resolved by its config; when its own files contradict the family (or no family covers it), the
    entry is drafted on the fly like a run's, and a warning on stderr says it is unverified.
    """
    from dayzero import registry

    reg = registry.default()
    if target in reg.families:
        return reg.families[target], None
    try:
        res = registry.resolve(target)
    except DayzeroError:
        if not Path(target).is_dir():
            raise
        res = None
    if res is not None and res.verified:
        return res.family, res.checkpoint.hf if res.checkpoint else None
    from dayzero.sdk.unverified import draft_family

    typer.echo(f"warning: {target} is unverified: " + ("; ".join(res.conflicts) if res else "not in the registry")
               + "; its template and tokens were drafted from its own files", err=True)
    return draft_family(Path(target), reg), None


def _template(target: str) -> Any:
    from dayzero.sdk.templates import ChatTemplate

    family, checkpoint = _family_and_checkpoint(target)
    return ChatTemplate.for_family(family, checkpoint)


@template_app.command("render")
def render(
    family: Annotated[str, typer.Argument(help="A family id, a hub id (its checkpoint overrides apply) or a model folder.")],
    messages: MessagesOpt,
    tools: ToolsOpt = None,
    add_generation_prompt: Annotated[bool, typer.Option("--add-generation-prompt", help="End with the assistant prompt.")] = False,
    thinking: ThinkingOpt = None,
) -> None:
    """Print the text a conversation renders to (what training and serving both see)."""
    msgs, tool_list = _conversation(messages, tools)
    text = _template(family).render(msgs, tools=tool_list, add_generation_prompt=add_generation_prompt,
                                    thinking=thinking)
    typer.echo(text, nl=False)


def _load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    if path.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return AutoTokenizer.from_pretrained(str(path))


@template_app.command("encode")
def encode(
    family: Annotated[str, typer.Argument(help="A family id, a hub id or a model folder.")],
    messages: MessagesOpt,
    tokenizer: Annotated[Path, typer.Option("--tokenizer", help="Tokenizer directory, or a .gguf vocabulary.")],
    tools: ToolsOpt = None,
    thinking: ThinkingOpt = None,
    train_on_prompt: Annotated[bool, typer.Option(help="Train on every token.")] = False,
    mask_history: Annotated[bool, typer.Option(help="Train only the last assistant turn.")] = False,
) -> None:
    """Print {input_ids, labels} as JSON; labels are -100 where nothing is trained."""
    msgs, tool_list = _conversation(messages, tools)
    enc = _template(family).encode(msgs, _load_tokenizer(tokenizer), tools=tool_list, thinking=thinking,
                                   train_on_prompt=train_on_prompt, mask_history=mask_history)
    typer.echo(json.dumps(enc.to_dict()))


@template_app.command("jinja")
def jinja(family: str) -> None:
    """Print the generated Jinja chat template (for tokenizers that ship none, and for exports)."""
    typer.echo(_template(family).to_jinja(), nl=False)


@template_app.command("check")
def check(
    family: Annotated[str, typer.Argument(help="A family id, a hub id or a model folder.")],
    official: Annotated[Path | None, typer.Option("--official", help="A .jinja file or a tokenizer_config.json "
                                                  "(default: the family's `template.official` under the reference data).")] = None,
) -> None:
    """Render the parity battery three ways and print a report; exit 1 on any mismatch."""
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate
    from dayzero.sdk.templates.parity import check as run_check
    from dayzero.sdk.templates.parity import load_official, report

    fam, checkpoint = _family_and_checkpoint(family)
    if official is None and Path(family).is_dir():  # a model folder is checked against its own template
        official = Path(family) / "tokenizer_config.json"
    if official is None:
        if not fam.template.official:
            raise TemplateError(f"family {family!r} records no official template", hint="pass --official PATH")
        source = load_official(fam.template.official, _reference_root())
    else:
        source = load_official(official)
    from dayzero.sdk.templates.probe import probe

    # the battery renders the template dozens of times: a template that fails the probe is refused first
    probe(ChatTemplate.from_official(source, fam.template, date=TEST_DATE).render, "the official template")
    results = run_check(ChatTemplate.for_family(fam, checkpoint, date=TEST_DATE), source)
    typer.echo(report(results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@template_app.command("caps")
def caps(
    target: Annotated[str, typer.Argument(help="A family id, a hub id, a model folder, or a .jinja / "
                                                "tokenizer_config.json path.")],
    write: Annotated[bool, typer.Option("--write", help="Record the result in the family file.")] = False,
    family: Annotated[str | None, typer.Option("--family", help="For a template path: the family whose facts "
                                               "(end of turn, reasoning switch) apply.")] = None,
) -> None:
    """Probe a template and print its capabilities record as JSON."""
    from dayzero import registry
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.templates.capabilities import probe, record_capabilities
    from dayzero.sdk.templates.parity import load_official

    path = Path(target)
    if path.is_dir() or (not path.exists() and target.count("/") == 1 and path.suffix not in (".jinja", ".json")):
        if write:
            raise TemplateError("--write records a family's capabilities; give a family id")
        tpl = _template(target)  # a model folder or a hub id
    elif path.suffix in (".jinja", ".json") or path.exists():
        if write:
            raise TemplateError("--write records a family's capabilities; give a family id")
        fam = registry.get(family) if family else None
        tpl = ChatTemplate.from_official(load_official(path), fam, (fam.tokenizer.bos or "") if fam else "",
                                         fam.tokenizer.eos if fam else "")
    else:
        tpl = ChatTemplate.for_family(target)
    result = probe(tpl)
    typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    if write:
        reg = registry.default()
        record_capabilities(reg.sources.get(target, reg.root / f"{target}.yaml"), result)
