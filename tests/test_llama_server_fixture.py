"""The e2e teacher fixture fails at once, with the exit status and the end of the server's log,
when the server dies: never a test polling a dead port (runs without llama.cpp)."""

from __future__ import annotations

import sys
import time

import pytest

from tests.llama_server import LlamaServer

CRASH = ("import os, signal, sys; print('load_tensors: AMX model buffer size = 1.0 MiB', file=sys.stderr, flush=True); "
         "os.kill(os.getpid(), signal.SIGSEGV)")


def test_a_server_that_dies_fails_the_test_at_once_with_its_signal_and_log(tmp_path):
    server = LlamaServer(tmp_path / "server.log", command=[sys.executable, "-c", CRASH])
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception) as failure:
        server.wait_ready(deadline_s=60)
    assert time.monotonic() - started < 10
    message = str(failure.value)
    assert "killed by signal 11" in message and "AMX model buffer size" in message


def test_a_server_that_exits_reports_its_exit_status(tmp_path):
    server = LlamaServer(tmp_path / "server.log", command=[sys.executable, "-c", "import sys; sys.exit(7)"])
    with pytest.raises(pytest.fail.Exception, match="exit status 7"):
        server.wait_ready(deadline_s=60)
