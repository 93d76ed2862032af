"""`dayzero serve` and `dayzero chat`: serve a model over the OpenAI API, or talk to it in the terminal.

Nothing heavy is imported here: the model, fastapi and uvicorn load inside the commands.
"""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from dayzero.cli import app

Target = Annotated[str, typer.Argument(help="MODEL_DIR, ADAPTER_DIR, RUN_DIR (with run.json) or RECIPE.")]
FamilyOpt = Annotated[
    str | None, typer.Option("--family", help="Family id, when the model's config does not identify it.")
]
PickleOpt = Annotated[
    bool, typer.Option("--allow-pickle", help="Load pickle weights (pytorch_model.bin): runs code they hold.")
]
NameOpt = Annotated[
    str | None, typer.Option("--served-model-name", help="Name clients use (default: the directory name).")
]


@app.command("serve")
def serve(
    target: Target,
    backend: Annotated[str, typer.Option(help="hf (transformers; CPU or small GPU) | vllm (CUDA, own env).")] = "hf",
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless told otherwise.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    api_key: Annotated[
        str | None, typer.Option(envvar="DAYZERO_API_KEY", help="Require `Authorization: Bearer KEY`.")
    ] = None,
    family: FamilyOpt = None,
    served_model_name: NameOpt = None,
    merge: Annotated[bool, typer.Option(help="hf: merge a LoRA adapter into the base before serving.")] = False,
    device: Annotated[str | None, typer.Option(help="hf: torch device (default: cuda if present, else cpu).")] = None,
    max_tokens_default: Annotated[
        int, typer.Option(min=1, help="hf: new-token limit when a request sets no max_tokens.")
    ] = 1024,
    print_vllm_command: Annotated[
        bool, typer.Option("--print-vllm-command", help="Print the `vllm serve` command and exit.")
    ] = False,
    allow_pickle: PickleOpt = False,
    max_request_mb: Annotated[
        float, typer.Option(min=0.001, help="hf: largest request body accepted (MB); larger ones get 413.")
    ] = 8.0,
) -> None:
    """Serve a model with an OpenAI-compatible API (chat, completions, models, health)."""
    from dayzero.errors import ServeError
    from dayzero.sdk.serve.model_dir import find_target

    if backend not in ("hf", "vllm"):
        raise ServeError(f"unknown back end {backend!r}", hint="use `hf` or `vllm`")
    resolved = find_target(target, family=family, name=served_model_name)
    for warning in resolved.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if backend == "vllm" or print_vllm_command:
        from dayzero.sdk.serve.guards import check_servable
        from dayzero.sdk.serve.vllm_cmd import exec_vllm, vllm_command

        check_servable(resolved.model_dir, resolved.adapter_dir, allow_pickle=allow_pickle)  # as for hf

        cmd = vllm_command(resolved, host=host, port=port, api_key=api_key)
        if print_vllm_command:
            print(shlex.join(cmd))
            return
        exec_vllm(cmd)
        return
    from dayzero.sdk.serve import create_app, serve_forever, service_for
    from dayzero.sdk.serve.limits import Limits

    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        print(f"warning: binding {host} without --api-key: anyone who can reach it can use the model",
              file=sys.stderr)
    service = service_for(resolved, merge=merge, device=device, default_max_tokens=max_tokens_default,
                          allow_pickle=allow_pickle)
    print(f"serving `{service.model_name}` (family {resolved.family.id}) on http://{host}:{port}/v1",
          file=sys.stderr)
    limits = Limits(max_body_bytes=int(max_request_mb * 1024 * 1024))
    serve_forever(create_app(service, api_key=api_key, limits=limits), host, port)


@app.command("chat")
def chat(
    target: Target,
    family: FamilyOpt = None,
    system: Annotated[str | None, typer.Option(help="System prompt.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="New-token limit per answer.")] = 256,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0, help="0 = greedy.")] = None,
    merge: Annotated[bool, typer.Option(help="Merge a LoRA adapter into the base first.")] = False,
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda if present, else cpu).")] = None,
    allow_pickle: PickleOpt = False,
) -> None:
    """Chat with a model in the terminal; answers stream as they are generated (`/reset`, `/exit`)."""
    from dayzero.sdk.serve import find_target, service_for
    from dayzero.sdk.serve.chat import chat_loop

    resolved = find_target(target, family=family)
    for warning in resolved.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    service = service_for(resolved, merge=merge, device=device, allow_pickle=allow_pickle)
    try:
        chat_loop(service, system=system, max_tokens=max_tokens, temperature=temperature)
    finally:
        # Join the generation thread before the interpreter exits: a daemon thread still inside
        # torch at shutdown aborts the process ("terminate called without an active exception").
        service.backend.close()
