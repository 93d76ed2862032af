"""Run vLLM from its own environment: start the server, wait until it is healthy, stop it cleanly.

vLLM pins its own torch and transformers, so it runs as a separate interpreter (`--vllm-python`, or
$DAYZERO_VLLM_PYTHON; `.ci/setup-vllm-env` builds one from the package registries). The process is
started in its own session so that stopping it also stops the engine processes vLLM forks, and
nothing else: SIGTERM to that group (vLLM shuts its engine down on it), SIGKILL after a grace period.

`VLLM_CPU_KVCACHE_SPACE` (GiB of KV cache for the CPU build; vLLM's own default is sized for
servers) defaults to 1 unless the caller's environment sets it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from dayzero.errors import ServeError

from .vllm_cmd import PYTHON_ENV

DEFAULT_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}


def vllm_python(explicit: str | None = None) -> str | None:
    """The interpreter of vLLM's environment: ``explicit``, else $DAYZERO_VLLM_PYTHON; checked to exist."""
    python = explicit or os.environ.get(PYTHON_ENV) or None
    if python is not None and not Path(python).is_file():
        raise ServeError(
            f"the vLLM interpreter {python} does not exist",
            hint="set the environment up with `.ci/setup-vllm-env DIR` and pass DIR/bin/python",
        )
    return python


class VllmServer:
    """A vLLM server process for ``cmd`` (from `vllm_command`), listening on ``host:port``.

    >>> with VllmServer(cmd, host="127.0.0.1", port=8000) as server:   # started and healthy
    ...     ...                                                         # stopped on exit
    """

    def __init__(
        self,
        cmd: Sequence[str],
        *,
        host: str,
        port: int,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        startup_timeout_s: float = 900.0,
    ) -> None:
        self.cmd = list(cmd)
        self.base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        self.startup_timeout_s = startup_timeout_s
        self._env = {**DEFAULT_ENV, **os.environ, **(env or {})}
        self._own_log = log_path is None
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="dayzero-vllm-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    def start(self) -> VllmServer:
        """Start vLLM and return once `/health` answers 200 (or raise with the end of its log)."""
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            try:
                self.proc = subprocess.Popen(
                    self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env, start_new_session=True
                )
            except OSError as exc:
                raise ServeError(
                    f"cannot start vLLM ({self.cmd[0]}): {exc}",
                    hint=f"pass --vllm-python PATH or set {PYTHON_ENV}",
                ) from None
        try:
            self._wait_healthy(started)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def _wait_healthy(self, started: float) -> None:
        assert self.proc is not None
        while time.monotonic() - started < self.startup_timeout_s:
            code = self.proc.poll()
            if code is not None:
                raise ServeError(f"vLLM exited with code {code} before it was ready:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(1.0)
        raise ServeError(f"vLLM was not healthy after {self.startup_timeout_s:.0f} s:\n{self.log_tail()}")

    def wait(self) -> int:
        """Block until the server exits (Ctrl-C stops it cleanly); its exit code."""
        assert self.proc is not None
        try:
            return self.proc.wait()
        except KeyboardInterrupt:
            self.stop()
            return 0

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM to the server's own process group, SIGKILL after ``grace_s``."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # engine processes vLLM forked, if any outlived it
        if self._own_log:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
        self.proc = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> VllmServer:
        return self.start() if self.proc is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
