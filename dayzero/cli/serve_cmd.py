"""`dayzero serve` and `dayzero chat`: serve a model over the OpenAI API, or talk to it in the terminal.

Nothing heavy is imported here: the model, fastapi and uvicorn load inside the commands.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
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
    backend: Annotated[str, typer.Option(help="hf (transformers; CPU or small GPU) | vllm (its own env).")] = "hf",
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
        bool, typer.Option("--print-vllm-command", help="Print the vLLM command and exit.")
    ] = False,
    allow_pickle: PickleOpt = False,
    max_request_mb: Annotated[
        float, typer.Option(min=0.001, help="hf: largest request body accepted (MB); larger ones get 413.")
    ] = 8.0,
    allow_image_urls: Annotated[
        bool, typer.Option("--allow-image-urls", help="hf: fetch http(s) image parts (default: data URIs only).")
    ] = False,
    max_images: Annotated[int, typer.Option(min=0, help="hf: image parts per request; more get 400.")] = 8,
    max_image_mb: Annotated[float, typer.Option(min=0.001, help="hf: largest image (MB, encoded); larger get 413.")] = 5.0,
    max_image_pixels: Annotated[
        int, typer.Option(min=1, help="hf: most pixels per image (width x height); more get 413.")
    ] = 4096 * 4096,
    vllm_python: Annotated[
        str | None,
        typer.Option(
            "--vllm-python",
            help="vllm: the interpreter of vLLM's own environment "
            "(default: $DAYZERO_VLLM_PYTHON; `.ci/setup-vllm-env DIR` makes one).",
        ),
    ] = None,
    vllm_args: Annotated[
        str | None,
        typer.Option(
            "--vllm-args", help='vllm: more vLLM flags, appended as written (e.g. "--dtype float32").'
        ),
    ] = None,
    adapter: Annotated[
        list[str] | None,
        typer.Option(
            "--adapter",
            help="NAME=ADAPTER_DIR: one more LoRA adapter on the same "
            "base, answered when a request's `model` is NAME (repeatable).",
        ),
    ] = None,
) -> None:
    """Serve a model with an OpenAI-compatible API (chat, completions, models, health)."""
    from dayzero.errors import ServeError
    from dayzero.sdk.serve.model_dir import find_target

    if backend not in ("hf", "vllm"):
        raise ServeError(f"unknown back end {backend!r}", hint="use `hf` or `vllm`")
    resolved = find_target(target, family=family, name=served_model_name)
    extra_adapters = parse_adapters(adapter or [])
    for warning in resolved.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if backend == "vllm" or print_vllm_command:
        from dayzero.sdk.serve.guards import check_servable
        from dayzero.sdk.serve.vllm_cmd import vllm_command, vllm_launcher
        from dayzero.sdk.serve.vllm_launch import vllm_python as find_python

        check_servable(resolved.model_dir, resolved.adapter_dir, allow_pickle=allow_pickle)  # as for hf
        for _, adapter_dir in extra_adapters:
            check_servable(resolved.model_dir, adapter_dir, allow_pickle=allow_pickle)
        python = find_python(vllm_python)
        cmd = vllm_command(
            resolved,
            host=host,
            port=port,
            api_key=api_key,
            adapters=extra_adapters,
            launcher=vllm_launcher(python),
            extra=shlex.split(vllm_args or ""),
        )
        if print_vllm_command:
            print(shlex.join(cmd))
            return
        run_vllm(cmd, host, port, python)
        return
    from dayzero.sdk.serve import create_app, serve_forever, service_for
    from dayzero.sdk.serve.limits import Limits

    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        print(f"warning: binding {host} without --api-key: anyone who can reach it can use the model",
              file=sys.stderr)
    service = service_for(resolved, merge=merge, device=device, default_max_tokens=max_tokens_default,
                          allow_pickle=allow_pickle, adapters=extra_adapters)
    names = ", ".join(f"`{n}`" for n in service.served_names)
    print(f"serving {names} (family {resolved.family.id}) on http://{host}:{port}/v1", file=sys.stderr)
    limits = Limits(max_body_bytes=int(max_request_mb * 1024 * 1024), max_images=max_images,
                    max_image_bytes=int(max_image_mb * 1024 * 1024), max_image_pixels=max_image_pixels,
                    allow_image_urls=allow_image_urls)
    serve_forever(create_app(service, api_key=api_key, limits=limits), host, port)


def parse_adapters(specs: list[str]) -> list[tuple[str, Path]]:
    """`NAME=DIR` options as (name, directory) pairs; a malformed one is a clear error."""
    from dayzero.errors import ServeError, Where

    out: list[tuple[str, Path]] = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ServeError(f"--adapter {spec!r}: expected NAME=ADAPTER_DIR", where=Where(field="--adapter"))
        if not (Path(path) / "adapter_config.json").is_file():
            raise ServeError(
                f"--adapter {spec!r}: {path} has no adapter_config.json", where=Where(field="--adapter")
            )
        out.append((name, Path(path)))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ServeError(f"--adapter names must be distinct, got {names}", where=Where(field="--adapter"))
    return out


def run_vllm(cmd: list[str], host: str, port: int, python: str | None) -> None:
    """Start vLLM, say where it answers once healthy, and stop it cleanly on Ctrl-C or SIGTERM."""
    import shutil
    import signal

    from dayzero.errors import ServeError
    from dayzero.sdk.serve.vllm_cmd import PYTHON_ENV
    from dayzero.sdk.serve.vllm_launch import VllmServer

    if python is None and shutil.which(cmd[0]) is None:
        raise ServeError(
            "vllm is not installed in this environment (it pins its own torch and transformers)",
            hint=f"set it up in its own environment (`.ci/setup-vllm-env DIR`) and pass --vllm-python DIR/bin/python "
            f"(or set {PYTHON_ENV}), or print the command with --print-vllm-command",
        )
    server = VllmServer(cmd, host=host, port=port)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        print(f"starting vLLM: {shlex.join(cmd)}", file=sys.stderr)
        server.start()
        print(
            f"vLLM is serving on {server.base_url}/v1 (started in {server.startup_s:.0f} s; Ctrl-C stops it)",
            file=sys.stderr,
        )
        code = server.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    if code:
        raise ServeError(f"vLLM exited with code {code}")


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
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="Image file attached to the first message (repeatable; `/image PATH` later)."),
    ] = None,
) -> None:
    """Chat with a model in the terminal; answers stream as they are generated (`/reset`, `/exit`, `/image PATH`)."""
    from dayzero.sdk.serve import find_target, service_for
    from dayzero.sdk.serve.chat import chat_loop

    resolved = find_target(target, family=family)
    for warning in resolved.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    service = service_for(resolved, merge=merge, device=device, allow_pickle=allow_pickle)
    try:
        chat_loop(service, system=system, max_tokens=max_tokens, temperature=temperature, images=image)
    finally:
        # Join the generation thread before the interpreter exits: a daemon thread still inside
        # torch at shutdown aborts the process ("terminate called without an active exception").
        service.backend.close()
