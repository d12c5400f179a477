"""A client that sends what no well-behaved editor would, over real stdio bytes: wrongly framed
messages, params of the wrong shape, requests before `initialize` and after `shutdown`, and a
hover on a FIFO. Every request gets a reply and the server keeps answering."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.serve.conftest import lab_copy

pytestmark = pytest.mark.timeout(120)


class RawClient:
    """`trm-lsp serve` on pipes, spoken to in bytes; replies collected by a reader thread."""

    def __init__(self, root: Path, mcp: bool = False) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        serve = ["serve", "--mcp-port", "0"] if mcp else ["serve", "--no-mcp"]
        self.proc = subprocess.Popen([sys.executable, "-m", "trm_lsp", *serve], cwd=root,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.root = root
        self.messages: queue.Queue = queue.Queue()
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()  # never let it fill

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line == b"\r\n":
                    break
            self.messages.put(json.loads(out.read(length)))

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def reply(self, msg_id, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if message.get("id") == msg_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a server request (progress, config): accept it
                self.send({"id": message["id"], "result": None})
        raise AssertionError(f"no reply to request {msg_id!r} within {timeout} s")

    def initialize(self, capabilities: dict | None = None) -> None:
        self.send({"id": "init", "method": "initialize", "params": {
            "processId": None, "rootUri": self.root.as_uri(), "capabilities": capabilities or {}}})
        assert "result" in self.reply("init", 60)
        self.send({"method": "initialized", "params": {}})

    def wait_indexed(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for n in range(10_000):
            self.send({"id": f"status{n}", "method": "workspace/executeCommand", "params": {"command": "trm-lsp.status"}})
            if self.reply(f"status{n}")["result"]["indexed"]:
                return
            assert time.monotonic() < deadline, "not indexed in time"
            time.sleep(0.1)

    def hover(self, msg_id, rel: str, line: int, character: int, timeout: float = 20.0) -> dict:
        self.send({"id": msg_id, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": (self.root / rel).as_uri()}, "position": {"line": line, "character": character}}})
        return self.reply(msg_id, timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def client(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    raw = RawClient(root)
    yield raw
    raw.close()


def _works(client: RawClient, msg_id) -> None:
    reply = client.hover(msg_id, "factorial.py", 0, 0)
    assert "result" in reply, reply


def test_requests_before_initialize_and_after_shutdown_are_refused_not_ignored(client):
    client.send({"id": 1, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": (client.root / "x.py").as_uri()}, "position": {"line": 0, "character": 0}}})
    assert client.reply(1)["error"]["code"] == -32002
    client.initialize()
    _works(client, 2)
    client.send({"id": 3, "method": "shutdown"})
    assert "result" in client.reply(3)
    client.send({"id": 4, "method": "workspace/executeCommand", "params": {"command": "trm-lsp.status"}})
    assert client.reply(4)["error"]["code"] == -32600
    client.send({"method": "exit"})
    assert client.proc.wait(20) == 0


def test_requests_in_flight_at_shutdown_are_answered_before_it(client):
    """A client may send `exit` the moment `shutdown` is answered (vscode-languageclient does):
    the hovers it sent before are answered first, so none is left without a reply."""
    fresh = "".join(f"def step_{n}(items, limit):\n    return [i * {n} for i in items[:limit]]\n\n\n" for n in range(10))
    (client.root / "steps.py").write_text(fresh, encoding="utf-8")  # no teacher answers: the student writes each
    client.initialize()
    client.wait_indexed()
    for n in range(10):
        client.send({"id": f"h{n}", "method": "textDocument/hover", "params": {
            "textDocument": {"uri": (client.root / "steps.py").as_uri()}, "position": {"line": 4 * n, "character": 6}}})
    client.send({"id": "bye", "method": "shutdown"})
    answered = []
    deadline = time.monotonic() + 20
    while "bye" not in answered and time.monotonic() < deadline:
        message = client.messages.get(timeout=max(0.01, deadline - time.monotonic()))
        if "id" in message and "method" not in message:
            answered.append(message["id"])
    assert answered[-1] == "bye" and set(answered) == {"bye", *(f"h{n}" for n in range(10))}, answered
    client.send({"method": "exit"})
    assert client.proc.wait(20) == 0


def test_an_unknown_method_without_params_is_not_found_and_a_known_one_says_what_is_missing(client):
    client.initialize()
    client.send({"id": 31, "method": "foo/bar"})
    assert client.reply(31)["error"]["code"] == -32601
    client.send({"id": 34, "method": "workspace/executeCommand", "params": {"command": "trm-lsp.explain"}})
    error = client.reply(34)["error"]  # `arguments` is optional in LSP: missing is too few, not a crash
    assert error["code"] == -32602 and "trm-lsp.explain" in error["message"], error
    client.send({"id": 32, "method": "textDocument/hover"})
    error = client.reply(32)["error"]
    assert error["code"] == -32602 and error["message"] == "invalid params for textDocument/hover: params missing"
    _works(client, 33)


def test_a_client_reply_that_cannot_be_read_does_not_hold_the_command_and_a_refusal_logs_no_traceback(client):
    """`trm-lsp.explain` opens a page with window/showDocument; a client that answers it with
    something unreadable (`result: null`, as this client does) gets the command's reply anyway,
    shown as a message. A request refused for its arguments is one line in the log, not an
    ERROR with a traceback: the reply already says it."""
    client.initialize({"window": {"showDocument": {"support": True}}})
    uri = (client.root / "factorial.py").as_uri()
    started = time.monotonic()
    client.send({"id": 41, "method": "workspace/executeCommand", "params": {
        "command": "trm-lsp.explain", "arguments": [{"uri": uri, "qualname": "factorial_recursive"}]}})
    reply = client.reply(41, timeout=20)
    assert "result" in reply, reply
    assert reply["result"]["symbol"] == "factorial_recursive" and time.monotonic() - started < 4, reply
    client.send({"id": 42, "method": "workspace/executeCommand", "params": {
        "command": "trm-lsp.explain", "arguments": [{"uri": uri, "line": 99999}]}})
    error = client.reply(42)["error"]
    assert error["code"] == -32602 and "no indexed symbol" in error["message"]
    _works(client, 43)
    log = b"".join(client.stderr).decode("utf-8", "replace")
    assert "Traceback" not in log and "Exception occurred" not in log, log[-2000:]


@pytest.mark.parametrize("params", ["a string", {}, {"textDocument": {"uri": "file:///x.py"}},
                                    {"textDocument": {"uri": "file:///x.py"}, "position": {"line": -1, "character": 0}},
                                    {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 2**40, "character": 0}}],
                         ids=["string", "empty", "no-position", "negative-line", "huge-line"])
def test_a_hover_with_invalid_params_gets_invalid_params(client, params):
    client.initialize()
    client.send({"id": 7, "method": "textDocument/hover", "params": params})
    error = client.reply(7)["error"]
    assert error["code"] == -32602 and "textDocument/hover" in error["message"]
    _works(client, 8)


@pytest.mark.parametrize("frame", [
    b'Content-Length: 5\r\n\r\n{"jsonrpc": "2.0", "method": "initialized", "params": {}}',
    b'Content-Length: abc\r\n\r\n{"jsonrpc": "2.0", "method": "initialized", "params": {}}',
    b'Content-Length: 99999999999999999999\r\n\r\n{}',
    b'Content-Length: 12\r\n\r\nnot json at!',
    b'garbage line\r\n\r\n',
], ids=["short", "not-a-number", "huge", "not-json", "no-header"])
def test_a_wrongly_framed_message_costs_only_itself(client, frame):
    client.initialize()
    client.send_raw(frame)
    _works(client, 11)
    _works(client, 12)


def test_hovering_a_fifo_or_a_directory_blocks_nothing(client):
    os.mkfifo(client.root / "pipe.py")
    (client.root / "pkg.py").mkdir()
    client.initialize()
    reply = client.hover(21, "pipe.py", 0, 0)
    assert reply.get("result") is None and "error" not in reply
    reply = client.hover(24, "pkg.py", 0, 0)
    assert reply.get("result") is None and "error" not in reply
    _works(client, 22)
    client.send({"id": 23, "method": "shutdown"})
    assert "result" in client.reply(23)
    client.send({"method": "exit"})
    assert client.proc.wait(20) == 0


def test_kill_9_of_the_daemon_during_its_first_index_leaves_no_process_and_an_intact_store(tmp_path, teacher):
    import random
    import signal
    import sqlite3

    from tests.conftest import alive, descendants

    root = lab_copy(tmp_path, teacher.url, distill=False)
    for i in range(1200):
        (root / f"pkg{i % 9}").mkdir(exist_ok=True)
        (root / f"pkg{i % 9}" / f"mod{i}.py").write_text(
            "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(40)))
    rng = random.Random(3)
    orphans, had_workers = set(), 0
    for _ in range(3):
        client = RawClient(root)
        client.initialize()
        deadline = time.monotonic() + rng.uniform(1.0, 3.0)
        workers: set[int] = set()
        while time.monotonic() < deadline:  # the forkserver, its workers, the resource tracker
            workers |= descendants(client.proc.pid)
            time.sleep(0.05)
        had_workers += len(workers) >= 2
        client.proc.kill()
        client.proc.wait()
        orphans |= alive(workers, within=15)  # the workers see their pipes close; on a busy machine, slowly
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it did exit, only later than `alive` waited
                continue
        db = sqlite3.connect(root / ".trm-lsp" / "index.sqlite3")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    assert had_workers, "no kill landed while worker processes ran"
    assert not orphans, f"{len(orphans)} processes outlived a kill -9 of the daemon"
    client = RawClient(root)  # and the next start finishes the index and answers
    client.initialize()
    _works(client, 31)
    client.close()


@pytest.mark.parametrize("quit", ["shutdown, exit", "shutdown, exit, stdin closed", "no shutdown"])
def test_sigterm_soon_after_exit_as_neovim_sends_it_stops_cleanly(tmp_path, teacher, quit):
    """Neovim 0.7 sends SIGTERM 500 ms after `exit`; on a busy machine the stop was not done by
    then, and the process died with its daemon.json (how `trm-lsp mcp` and the VS Code extension
    find it) naming a dead process. Here 50 ms after."""
    root = lab_copy(tmp_path, teacher.url, distill=False)
    client = RawClient(root, mcp=True)
    client.initialize()
    client.wait_indexed()
    state = root / ".trm-lsp"
    assert json.loads((state / "daemon.json").read_text())["pid"] == client.proc.pid
    if quit != "no shutdown":
        client.send({"id": "bye", "method": "shutdown"})
        assert "result" in client.reply("bye")
        client.send({"method": "exit"})
    if quit.endswith("stdin closed"):
        client.proc.stdin.close()
    time.sleep(0.05)
    client.proc.send_signal(signal.SIGTERM)
    assert client.proc.wait(30) == 0
    assert not (state / "daemon.json").exists() and not list((state / "daemons").glob("*.json"))
    time.sleep(0.2)  # the stderr reader thread drains the pipe
    log = b"".join(client.stderr).decode(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log, log


def test_an_mcp_call_the_caller_got_wrong_is_no_server_error_on_stderr(tmp_path, teacher):
    """Neovim logs every line of a server's stderr in lsp.log as [ERROR]: a question about a file
    that is not there is the caller's mistake, said to the caller, not a server error."""
    import asyncio

    from fastmcp import Client
    from fastmcp.exceptions import ToolError

    root = lab_copy(tmp_path, teacher.url, distill=False)
    client = RawClient(root, mcp=True)
    client.initialize()
    client.wait_indexed()
    url = json.loads((root / ".trm-lsp" / "daemon.json").read_text())["mcp_url"]

    async def ask() -> str:
        async with Client(url) as mcp:
            with pytest.raises(ToolError, match="nope.py: no such file"):
                await mcp.call_tool("consult_logic_model", {"query": "what is this", "file": "nope.py"})
            return (await mcp.call_tool("consult_logic_model", {"query": "factorial loop"})).content[0].text

    assert "factorial" in asyncio.run(ask())
    client.send({"id": "bye", "method": "shutdown"})
    client.reply("bye")
    client.send({"method": "exit"})
    assert client.proc.wait(30) == 0
    time.sleep(0.2)
    log = b"".join(client.stderr).decode(errors="replace")
    assert "Error calling tool" not in log and "ERROR" not in log, log


def test_explain_errors_say_what_is_wrong_without_a_traceback(client):
    client.initialize()
    _works(client, 40)
    factorial = (client.root / "factorial.py").as_uri()
    for n, (args, says) in enumerate((([], "Expected 1 arguments, got 0"),
                                      ([{"uri": "file:///elsewhere/x.py", "line": 1}], "a file in the workspace"),
                                      ([{"uri": factorial, "line": 10**20}], "no indexed symbol at factorial.py:"),
                                      ([{"line": 3}], "required field missing @ argument.uri"),
                                      ([{"uri": factorial, "line": "three"}], "expected int | None @ argument.line"))):
        client.send({"id": 41 + n, "method": "workspace/executeCommand",
                     "params": {"command": "trm-lsp.explain", "arguments": args}})
        error = client.reply(41 + n)["error"]
        assert error["code"] == -32602 and "Traceback" not in json.dumps(error) and "data" not in error, error
        assert error["message"].startswith("trm-lsp.explain") or "no indexed symbol" in error["message"], error
        assert says in error["message"], error
