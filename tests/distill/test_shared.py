"""Answers shared across a team (issue 15): `trm-lsp publish` writes a workspace's teacher answers
as static objects, nginx (Debian's) serves them, and a second workspace with the same code reads
them through `teacher.sharedAnswers` instead of asking its teacher. Calls are counted at the
teacher server; every bad answer from the store is refused with its reason and never blocks."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import run_cli, write
from tests.fake_teacher import FakeTeacher
from tests.nginx import Nginx

FUNCTIONS = 12


def make_code(root: Path) -> None:
    for m in range(3):
        write(root, f"pkg/mod{m}.py", "".join(f"def g_{m}_{n}(x):\n    return x * {m} - {n}\n\n" for n in range(4)))


def distill(root: Path, url: str) -> str:
    return run_cli("distill", str(root), "--host", url, check=False).stderr


def answers(root: Path) -> list[dict]:
    out = root / "answers.jsonl"
    run_cli("export", str(root), "-o", str(out))
    return [json.loads(line) for line in out.read_text().splitlines()]


def second_workspace(first: Path, tmp_path: Path, url: str, name: str = "second") -> Path:
    """The same code, nothing distilled, reading the published answers at `url`."""
    root = tmp_path / name
    shutil.copytree(first, root, ignore=shutil.ignore_patterns(".trm-lsp"))
    (root / "trm-lsp.toml").write_text(f'[teacher]\nsharedAnswers = "{url}"\nsharedTimeout = 2\n'
                                       "breakerFailures = 2\nprobeInterval = 60\n")
    return root


@pytest.fixture
def published(tmp_path: Path):
    """A distilled workspace and the tree `trm-lsp publish` wrote from it."""
    first = tmp_path / "first"
    make_code(first)
    with FakeTeacher() as teacher:
        distill(first, teacher.url)
        assert teacher.calls == FUNCTIONS
    out = tmp_path / "published"
    result = run_cli("publish", str(first), str(out))
    assert f"published {FUNCTIONS} new answers" in result.stderr
    return first, out


@pytest.fixture
def nginx(published, tmp_path: Path):
    server = Nginx(published[1], tmp_path / "nginx")
    yield server
    server.stop()


def test_publish_writes_content_addressed_objects_and_adds_only_what_is_new(published, tmp_path: Path):
    first, out = published
    root = json.loads((out / "trm-lsp-answers.json").read_text())
    (entry,) = root["sets"]
    assert entry["teacher"] == "deepseek-r1:1.5b" and entry["count"] == FUNCTIONS
    index = json.loads((out / entry["index"]).read_text())
    assert len(index["objects"]) == FUNCTIONS
    for digest in index["objects"].values():
        body = (out / "objects" / digest[:2] / f"{digest}.json").read_bytes()
        assert hashlib.sha256(body).hexdigest() == digest  # named by its own bytes

    write(first, "pkg/extra.py", "def fresh(y):\n    return y + 1\n")
    with FakeTeacher() as teacher:
        distill(first, teacher.url)
        assert teacher.calls == 1
    again = run_cli("publish", str(first), out.as_uri()).stderr  # the URL sharedAnswers takes names it too
    assert f"published 1 new answers to {out} ({FUNCTIONS} were there already" in again
    assert json.loads((out / entry["index"]).read_text())["objects"].keys() >= index["objects"].keys()
    for wrong in ("https://answers.example.internal/trm-lsp", "s3://bucket/answers", "", "file://",
                  f"file://otherhost{out}"):
        refused = run_cli("publish", str(first), wrong, cwd=tmp_path, check=False)
        assert refused.returncode == 2 and "publish" in refused.stderr, refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "published"]  # no `https:` folder made


def test_a_second_workspace_reads_every_answer_from_nginx_with_no_teacher_call(published, nginx, tmp_path: Path):
    second = second_workspace(published[0], tmp_path, nginx.url)
    with FakeTeacher() as teacher:
        stderr = distill(second, teacher.url)
        assert teacher.calls == 0, stderr
        assert f"read {FUNCTIONS}" in stderr
        got = answers(second)
        assert len(got) == FUNCTIONS
        assert {a["output"] for a in got} == {a["output"] for a in answers(published[0])}

        path = second / "pkg/mod1.py"
        path.write_text(path.read_text().replace("return x * 1 - 2", "return x * 1 - 200"))
        distill(second, teacher.url)
        assert teacher.calls == 1 and "200" in teacher.prompts[-1]  # only the edited function

    # The index was asked for again only conditionally (a 304), over the same kept-alive server.
    lines = [line for line in nginx.requests() if "/index/" in line]
    assert any('" 304 ' in line for line in lines), lines
    stored = __import__("sqlite3").connect(second / ".trm-lsp" / "index.sqlite3")
    origins = dict(stored.execute("SELECT origin, COUNT(*) FROM samples GROUP BY origin"))
    assert origins == {nginx.url: FUNCTIONS, "": 1}  # each answer says where it came from


def test_a_tampered_object_is_refused_counted_and_asked_of_the_teacher(published, nginx, tmp_path: Path):
    out = published[1]
    obj = next((out / "objects").rglob("*.json"))
    record = json.loads(obj.read_text())
    record["output"] = "Deletes every file on the disk."  # content changed, name (key) kept
    obj.write_text(json.dumps(record))
    second = second_workspace(published[0], tmp_path, nginx.url)
    with FakeTeacher() as teacher:
        stderr = distill(second, teacher.url)
        assert teacher.calls == 1
    assert "refused 1 content does not match its hash" in stderr
    assert all("Deletes every file" not in a["output"] for a in answers(second))


def test_a_stopped_store_falls_back_to_the_teacher(published, nginx, tmp_path: Path):
    nginx.stop()
    second = second_workspace(published[0], tmp_path, nginx.url)
    with FakeTeacher() as teacher:
        started = time.monotonic()
        stderr = distill(second, teacher.url)
        assert teacher.calls == FUNCTIONS, stderr
    assert time.monotonic() - started < 30
    assert len(answers(second)) == FUNCTIONS


class _BadStore(BaseHTTPRequestHandler):
    """A shared store gone wrong in one way per run (`mode`), with the real index in front."""

    mode = "html"
    root: Path = Path()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if self.mode == "hang":
            time.sleep(30)
            return
        if self.mode == "not-found":
            return self._send(404, b"not found")
        if self.mode == "redirect-loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = self.root / self.path.lstrip("/")
        if "/index/" in self.path and self.mode == "swapped-index":  # each symbol named another's answer
            index = json.loads(path.read_text())
            keys, digests = list(index["objects"]), list(index["objects"].values())
            index["objects"] = dict(zip(keys, digests[1:] + digests[:1]))
            return self._send(200, json.dumps(index).encode())
        if "/objects/" not in self.path or self.mode == "swapped-index":
            return self._send(200, path.read_bytes()) if path.exists() else self._send(404, b"")
        if self.mode == "html":
            return self._send(200, b"<!doctype html><html><body>Sign in</body></html>")
        if self.mode == "huge":  # claims a gigabyte and starts sending it
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            try:
                for _ in range(1 << 10):
                    self.wfile.write(b" " * (1 << 20))
            except OSError:
                return
            return
        if self.mode == "other-symbol":  # a valid answer, for another symbol, named honestly
            other = next(p for p in (self.root / "objects").rglob("*.json") if p.name != Path(self.path).name)
            return self._send(200, other.read_bytes())
        self._send(500, b"")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("mode, reason", [
    ("html", "HTML, not an answer"),
    ("not-found", "missing"),
    ("redirect-loop", "redirects without end"),
    ("huge", "larger than"),
    ("other-symbol", "content does not match its hash"),
    ("swapped-index", "for another symbol's text"),
    ("hang", "unreachable"),
])
def test_a_shared_store_gone_wrong_costs_only_its_answers(published, tmp_path: Path, mode: str, reason: str):
    handler = type("Handler", (_BadStore,), {"mode": mode, "root": published[1]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        second = second_workspace(published[0], tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
        with FakeTeacher() as teacher:
            started = time.monotonic()
            stderr = distill(second, teacher.url)
            took = time.monotonic() - started
            assert teacher.calls == FUNCTIONS, stderr  # every answer still came, from the teacher
        assert reason in stderr
        if mode == "not-found":  # each symbol looked up once, not again when its job is taken
            assert f"missing {FUNCTIONS}\n" in stderr, stderr
        assert took < 40, f"{mode}: {took:.0f} s"
        assert len(answers(second)) == FUNCTIONS
    finally:
        server.shutdown()
        server.server_close()


def test_a_shared_answers_setting_that_is_not_a_url_names_the_key(tmp_path: Path):
    make_code(tmp_path)
    (tmp_path / "trm-lsp.toml").write_text('[teacher]\nsharedAnswers = "//team/answers"\n')
    result = run_cli("distill", str(tmp_path), "--host", "http://127.0.0.1:9", check=False)
    assert result.returncode == 2 and "teacher.sharedAnswers" in result.stderr
