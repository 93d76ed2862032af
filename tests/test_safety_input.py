"""Hostile input, end to end (issue 10): nothing hangs past its bound, nothing gives a traceback or a 500.

Templates are untrusted code: every render is bounded in time and memory whatever the construct.
Allocation bombs run in a child process under a 1.5 GB address-space limit, so a regression shows as
a `MemoryError` there instead of exhausting the machine. Hang tests carry their own short timeouts.
Expected messages are the documented ones (one line, naming file / line / field), not pasted output.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dayzero.errors import DayzeroError, ExportError, RecipeError, RegistryError, ServeError, TemplateError

REPO = Path(__file__).resolve().parents[1]
DAYZERO = Path(sys.executable).parent / "dayzero"
NESTED_LOOP = "{% set l=[0]*999999 %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}"

# ---- templates: time -------------------------------------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "source",
    [
        NESTED_LOOP,
        "{% set l=[0]*999999 %}{% for a in l %}{% for b in l|list %}{% endfor %}{% endfor %}",
        "{% set l=[0]*999999 %}{% for a in l %}{% for k in {'a': 1, 'b': 2} %}{% endfor %}{% endfor %}",
        "{% set l=[0]*999999 %}{% for a in l recursive %}{% for b in l %}{% endfor %}{% endfor %}",
    ],
)
def test_loops_over_plain_lists_stop_at_the_deadline(source: str) -> None:
    from dayzero.sdk.templates import render_official

    start = time.monotonic()
    with pytest.raises(TemplateError, match=r"did not finish within 0\.5 s"):
        render_official(source, [], timeout_s=0.5)
    assert time.monotonic() - start < 3


# ---- templates: memory (in a child under an address-space limit) -------------------------------------

BOMBS = {
    "center": "{{ 'x'.center(4000000000) }}",
    "center_filter_folded_at_compile_time": "{{ 'x'|center(4000000000) }}",
    "ljust": "{{ 'x'.ljust(4000000000)|length }}",
    "join_filter": "{% set s='x'*999999 %}{{ ([s]*999999)|join|length }}",
    "join_method": "{% set s='x'*999999 %}{{ ''.join([s]*999999)|length }}",
    "tilde_doubling": "{% set ns=namespace(s='x'*999999) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "plus_doubling": "{% set ns=namespace(s='x'*999999) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "captured_block": "{% set s='x'*999999 %}{% set y %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endset %}"
    "{{ y|length }}",
    "macro_body": "{% set s='x'*999999 %}{% macro m() %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endmacro %}"
    "{{ m()|length }}",
    "format_width": "{{ '{:>4000000000}'.format('x') }}",
    "percent_width": "{{ '%4000000000s' % 'x' }}",
    "format_filter": "{{ '%4000000000s'|format('x') }}",
    "replace": "{% set s='x'*999999 %}{{ s.replace('x', s)|length }}",
    "replace_filter": "{% set s='x'*999999 %}{{ s|replace('x', s)|length }}",
    "indent": "{% set s='\n'*999999 %}{{ s|indent(width=1000000, blank=True)|length }}",
    "sum_of_lists": "{% set l=[0]*999999 %}{{ ([l]*999999)|sum(start=[])|length }}",
    "integer_squaring": "{% set ns=namespace(x=9**64) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
    "{% endfor %}{{ 1 }}",
    "expandtabs": "{% set s='\t'*999999 %}{{ s.expandtabs(100000)|length }}",
    "translate": "{% set s='x'*999999 %}{{ s.translate({120: s})|length }}",
    "tojson_indent": "{{ [[[[1]]]]|tojson(indent=1000000000) }}",
    "wordwrap": "{% set s='x'*999999 %}{{ s|wordwrap(1, wrapstring=s)|length }}",
    "slow_filter": "{{ ('x '*1000000)|urlize|length }}",
    "lipsum": "{{ lipsum(1000000000)|length }}",
    "many_values": "{% set s='x'*999999 %}{% set ns=namespace(l=[]) %}{% for i in range(100000) %}"
    "{% set ns.l = ns.l + [s ~ i] %}{% endfor %}{{ 1 }}",
}

_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
from dayzero.sdk.templates import render_official
from dayzero.errors import TemplateError
out = {}
for name, source in json.loads(sys.stdin.read()).items():
    try:
        render_official(source, [], timeout_s=5.0)
        out[name] = "rendered"
    except TemplateError as exc:
        out[name] = "TemplateError: " + str(exc)
    except BaseException as exc:
        out[name] = type(exc).__name__
print(json.dumps(out))
"""


@pytest.mark.timeout(120)
def test_allocation_bombs_are_template_errors_within_bounded_memory() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(BOMBS),
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    wrong = {k: v for k, v in results.items() if not v.startswith("TemplateError")}
    assert not wrong, wrong
    for name in ("center", "join_filter", "captured_block", "format_width"):  # refused before allocating
        assert (
            "memory" in results[name]
            or "at most" in results[name]
            or "width" in results[name]
            or "spec" in results[name]
        ), results[name]


# ---- the server: off the event loop, limits, errors ---------------------------------------------------


class _Tokenizer:
    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": [1] * max(1, len(text) // 4)}

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return ""


class _FailingBackend:
    """Enough of `HFBackend` for the API: every generation fails with internals in its message."""

    queued = 0
    finished: dict[str, int] = {}  # noqa: RUF012
    max_context = 4096
    stop_ids: list[int] = []  # noqa: RUF012
    tokenizer = _Tokenizer()

    async def astream(self, prompt_ids: list[int], params: Any) -> Any:
        from dayzero.sdk.serve.hf_backend import ErrorEvent

        yield ErrorEvent("generation failed: RuntimeError: CUDA at /secret/internal/path.py:42")


def _server(render: Any, **app_kwargs: Any) -> Any:
    from dayzero.sdk.serve import ChatFormatting, ModelService, ServerThread, create_app

    service = ModelService(_FailingBackend(), ChatFormatting(render=render), model_name="m")  # type: ignore[arg-type]
    return ServerThread(create_app(service, **app_kwargs))


def _plain_render(messages: list[dict[str, Any]], **_: Any) -> str:
    return "".join(m["content"] for m in messages)


@pytest.mark.timeout(30)
def test_health_answers_while_a_render_is_stuck() -> None:
    from dayzero.sdk.templates import render_official

    def stuck(messages: list[dict[str, Any]], **_: Any) -> str:
        return render_official(NESTED_LOOP, messages, timeout_s=3.0)

    with _server(stuck) as server:
        base = f"http://127.0.0.1:{server.port}"
        result: dict[str, Any] = {}

        def chat() -> None:
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            result["r"] = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=20)

        worker = threading.Thread(target=chat)
        worker.start()
        time.sleep(0.5)  # the render is running now
        start = time.monotonic()
        health = httpx.get(f"{base}/health", timeout=10)
        latency = time.monotonic() - start
        worker.join(timeout=20)
    assert health.status_code == 200
    assert latency < 1.0, f"/health took {latency:.2f} s while a render was running"
    assert result["r"].status_code == 400
    assert "did not finish" in result["r"].json()["error"]["message"]


@pytest.mark.timeout(30)
def test_a_body_past_the_limit_is_413_without_being_read() -> None:
    with _server(_plain_render) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            head = (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
            )
            sock.sendall(head.encode() + b"{" + b" " * 1024)  # 1 KB of a declared 50 MB
            received = b""
            while chunk := sock.recv(65536):  # the server answers and closes; the rest is never read
                received += chunk
            reply = received.decode("latin-1")
        assert reply.startswith("HTTP/1.1 413"), reply[:200]
        assert "larger than" in reply


@pytest.mark.timeout(30)
def test_the_body_limit_is_configurable_and_holds_without_content_length() -> None:
    from dayzero.sdk.serve.limits import Limits

    with _server(_plain_render, limits=Limits(max_body_bytes=2000)) as server:
        url = f"http://127.0.0.1:{server.port}/v1/chat/completions"

        def chunks() -> Any:
            yield b'{"model": "m", "messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"x" * 500
            yield b'"}]}'

        r = httpx.post(url, content=chunks(), timeout=10)  # a generator: sent chunked, no Content-Length
        assert r.status_code == 413
        small = httpx.post(
            url, json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=10
        )
        assert small.status_code == 500  # got through the limit; the fake back end then fails


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/completions", {"model": "m", "prompt": ["a"] * 1000}, "prompt"),
        (
            "/v1/chat/completions",
            {"model": "m", "seed": 2**70, "messages": [{"role": "user", "content": "hi"}]},
            "seed",
        ),
    ],
)
def test_unbounded_parameters_are_400(path: str, body: dict[str, Any], param: str) -> None:
    with _server(_plain_render) as server:
        r = httpx.post(f"http://127.0.0.1:{server.port}{path}", json=body, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


@pytest.mark.timeout(30)
@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_400(depth: int) -> None:
    body = (
        '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": '
        + "[" * depth
        + "]" * depth
        + "}"
    )
    with _server(_plain_render) as server:
        r = httpx.post(f"http://127.0.0.1:{server.port}/v1/chat/completions", content=body, timeout=10)
    assert r.status_code == 400, r.text
    assert "nest" in r.json()["error"]["message"]


@pytest.mark.timeout(30)
def test_a_500_says_only_that_generation_failed() -> None:
    with _server(_plain_render) as server:
        r = httpx.post(
            f"http://127.0.0.1:{server.port}/v1/chat/completions",
            timeout=10,
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert r.status_code == 500
    message = r.json()["error"]["message"]
    assert "generation failed" in message
    assert "secret" not in message and "RuntimeError" not in message


# ---- serving: what is loaded ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dayzero import registry
    from dayzero.sdk.tiny import save_tiny

    return save_tiny(registry.get("qwen2"), tmp_path_factory.mktemp("safety") / "tiny-qwen2")


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.timeout(120)
def test_serve_loads_pickle_weights_only_when_allowed(tiny_dir: Path, tmp_path: Path) -> None:
    import torch

    from dayzero.sdk.serve import find_target, service_for

    pickled = _copy(tiny_dir, tmp_path / "pickled")
    weights = pickled / "model.safetensors"
    from safetensors.torch import load_file

    torch.save(load_file(str(weights)), pickled / "pytorch_model.bin")
    weights.unlink()
    with pytest.raises(ServeError, match="pickle"):
        service_for(find_target(pickled))
    vllm = _cli("serve", str(pickled), "--print-vllm-command")  # the vLLM path refuses them too
    assert vllm.returncode == 2 and "--allow-pickle" in vllm.stderr, vllm.stderr
    service = service_for(find_target(pickled), allow_pickle=True)
    service.backend.close()


@pytest.mark.timeout(60)
def test_serve_refuses_a_reward_model(tiny_dir: Path, tmp_path: Path) -> None:
    from dayzero.sdk.serve import find_target, service_for

    reward = _copy(tiny_dir, tmp_path / "reward")
    config = json.loads((reward / "config.json").read_text())
    config["architectures"] = ["Qwen2ForSequenceClassification"]
    (reward / "config.json").write_text(json.dumps(config))
    with pytest.raises(ServeError, match="not a chat model"):
        service_for(find_target(reward, family="qwen2"))


@pytest.mark.timeout(60)
def test_serve_refuses_a_template_that_fails_the_probe(tiny_dir: Path, tmp_path: Path) -> None:
    from dayzero.sdk.serve import find_target, service_for

    bad = _copy(tiny_dir, tmp_path / "bad-template")
    config = json.loads((bad / "tokenizer_config.json").read_text())
    config["chat_template"] = "{{ raise_exception('no conversation is good enough') }}"
    (bad / "tokenizer_config.json").write_text(json.dumps(config))
    (bad / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(TemplateError, match=r"probe conversation.*no conversation is good enough"):
        service_for(find_target(bad, family="qwen2"))


HANG_ON_REQUEST = (
    "{% for m in messages %}{% if m.content == 'hang' %}" + NESTED_LOOP + "{% endif %}"
    "<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_dayzero_serve_answers_health_and_sigterm_while_a_render_is_stuck(
    tiny_dir: Path, tmp_path: Path
) -> None:
    import signal

    model = _copy(tiny_dir, tmp_path / "hangs")
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["chat_template"] = HANG_ON_REQUEST  # passes the start-up probe; hangs on one message
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    (model / "chat_template.jinja").unlink(missing_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(
        [str(DAYZERO), "serve", str(model), "--family", "qwen2", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        body = {"model": "hangs", "messages": [{"role": "user", "content": "hang"}]}
        worker = threading.Thread(
            target=lambda: httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30)
        )
        worker.start()
        time.sleep(0.5)
        start = time.monotonic()
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        assert time.monotonic() - start < 1.0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) is not None  # the render is bounded (5 s), then the server exits
        worker.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [str(DAYZERO), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


@pytest.mark.timeout(60)
def test_template_check_refuses_a_hanging_template_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "loop.jinja"
    bad.write_text(NESTED_LOOP)
    start = time.monotonic()
    proc = _cli("template", "check", "qwen2", "--official", str(bad), timeout=50)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - start < 30  # one probe render (5 s), not the whole battery
    assert "probe conversation" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


# ---- the command line: usage errors --------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuchcommand"], "No such command"),
        (["registry", "show", "qwen2", "--nope"], "No such option: --nope"),
        (["registry", "show"], "Missing argument"),
        (["serve", "x", "--port", "notaport"], "Invalid value for '--port'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], expected: str) -> None:
    proc = _cli(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr


# ---- YAML, JSON, lock files, run.json ---------------------------------------------------------------------


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(8):
        prev, cur = chr(97 + i), chr(98 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_alias_bomb(), "aliases expand to more than"),
        ("? [a, b]\n: 1\n", ":1: malformed YAML: a mapping key must be a plain value"),
        ("x: " + "1" * 5000 + "\n", ":1: malformed YAML: integer not readable"),
        ("a: &a [*a]\n", "alias refers to the node that contains it"),
    ],
)
def test_hostile_yaml_is_a_one_line_error(tmp_path: Path, text: str, expected: str) -> None:
    from dayzero.yamlio import read_yaml

    path = tmp_path / "family.yaml"
    path.write_text(text)
    with pytest.raises(DayzeroError, match=expected) as err:
        read_yaml(path, RegistryError)
    assert str(path) in str(err.value)


def test_yaml_files_have_a_size_limit(tmp_path: Path) -> None:
    from dayzero.yamlio import MAX_FILE_BYTES, read_yaml

    path = tmp_path / "recipe.yaml"
    path.write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(RecipeError, match="file too large"):
        read_yaml(path, RecipeError)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a":\n "\xff"}', ":2: not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": ' + b"1" * 5000 + b"}", "JSON not readable"),
        (b"[1, 2]", "expected a JSON object"),
    ],
)
def test_malformed_run_json_is_a_clean_error(tmp_path: Path, data: bytes, expected: str) -> None:
    from dayzero.sdk.runinfo import read_run_json

    (tmp_path / "run.json").write_bytes(data)
    with pytest.raises(ExportError, match=expected) as err:
        read_run_json(tmp_path)
    assert "run.json" in str(err.value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], None),
        ({"families": 3}, "families"),
        ({"families": {"qwen2": {"revision": "one", "sha256": "ab"}}}, "families.qwen2"),
        ({"families": {"qwen2": "x"}}, "families.qwen2"),
    ],
)
def test_malformed_lock_files_are_clean_errors(tmp_path: Path, data: Any, field: str | None) -> None:
    from dayzero.registry import lock

    path = tmp_path / "registry.lock.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RegistryError) as err:
        lock.read(path)
    assert str(path) in str(err.value)
    if field:
        assert f"field `{field}`" in str(err.value)


def test_hostile_rows_are_row_problems_and_a_bom_is_skipped(tmp_path: Path) -> None:
    from dayzero.sdk.data.problems import RowError
    from dayzero.sdk.data.sources import iter_file

    good = json.dumps(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    )
    path = tmp_path / "rows.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + good.encode()
        + b"\n"
        + b'{"a": "\xff"}\n'
        + b"[" * 100_000
        + b"\n"
        + b'{"a": '
        + b"1" * 5000
        + b"}\n"
        + good.encode()
        + b"\n"
    )
    rows = list(iter_file(path))
    assert [o.line for o, _ in rows] == [1, 2, 3, 4, 5]
    assert rows[0][1] == json.loads(good) and rows[4][1] == json.loads(good)
    problems = [r for _, r in rows[1:4]]
    assert all(isinstance(p, RowError) for p in problems)
    assert [p.reason for p in problems] == ["bad_encoding", "bad_json", "bad_json"]


# ---- plan: caught at compile time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("train.learning_rate=.inf", "train.learning_rate"),
        ("train.learning_rate=true", "train.learning_rate"),
        ("train.output_dir=runs/{nope}", "train.output_dir"),
        ("data.datasets=[no_such_catalog_entry]", "data.datasets.0"),
        ("data.datasets=[{path: missing.jsonl, format: openai}]", "data.datasets.0"),
    ],
)
def test_plan_catches_bad_values_at_compile_time(override: str, field: str) -> None:
    from dayzero.sdk.compiler import compile as compile_plan

    with pytest.raises(RecipeError) as err:
        compile_plan("quickstart", overrides=[override])
    text = str(err.value)
    assert field in text and "\n" not in text
