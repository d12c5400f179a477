"""Property-based fuzz (Hypothesis) of the two parsers that face the outside world: the LSP
message reader on stdin and the validator of imported sample records. Bounded in `make test`
(the `ci` profile); `make e2e` runs the `deep` profile with many more examples."""

from __future__ import annotations

import asyncio
import os
import io
import json
import re

from hypothesis import HealthCheck, given, settings, strategies as st

from trm_lsp.distill.exchange import sample_from_record
from trm_lsp.serve.lsp import build_server
from trm_lsp.serve.rpc import read_messages
from trm_lsp.store import Store
from trm_lsp.store.samples import Samples

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("TRM_FUZZ_PROFILE", "ci"))


class Capture:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        pass

    def replies(self) -> dict:
        bodies = re.split(rb"Content-Length: \d+\r\n(?:[^\r\n]+\r\n)*\r\n", self.data)[1:]
        return {m.get("id"): m for m in map(json.loads, bodies)}


def frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def hover(msg_id: int) -> bytes:
    return frame({"id": msg_id, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 0, "character": 0}}})


def feed(data: bytes) -> Capture:
    """The reader on `data` (then EOF) with a real protocol that has not been initialized: every
    request gets a reply without a workspace (ServerNotInitialized or InvalidParams)."""
    import threading

    server = build_server(mcp=False)
    out = Capture()
    server.protocol.set_writer(out)
    stream = io.BytesIO(data)

    async def readline() -> bytes:
        return stream.readline(65536)

    async def read(n: int) -> bytes:
        return stream.read(n)

    asyncio.run(asyncio.wait_for(read_messages(readline, read, server.protocol, threading.Event()), 30))
    return out


headers = st.sampled_from([b"Content-Length: ", b"Content-Length:", b"content-length: ", b"Content-Type: x\r\n",
                           b"\r\n", b"\n", b"{", b"}", b'"jsonrpc": "2.0"', b"\r\n\r\n"])
numbers = st.one_of(st.integers(-5, 200).map(lambda n: str(n).encode()), st.binary(max_size=8),
                    st.just(b"99999999999999999999"), st.just(b"abc"))
junk = st.lists(st.one_of(headers, numbers, st.binary(max_size=40)), max_size=30).map(b"".join)


@given(junk)
def test_random_bytes_never_escape_and_a_clean_stream_after_them_is_answered(data: bytes):
    feed(data)  # no exception escapes, EOF ends the loop
    if b"content-length" not in data.lower():  # nothing in the junk claims the bytes that follow
        replies = feed(data + hover(1) + hover(2)).replies()
        assert replies[1]["error"]["code"] == -32002 and replies[2]["error"]["code"] == -32002


@given(st.binary(max_size=300), st.integers(0, 400))
def test_a_truncated_or_oversize_frame_costs_only_itself(body: bytes, declared: int):
    data = b"Content-Length: %d\r\n\r\n" % declared + body
    replies = feed(data + hover(1) + hover(2) + hover(3)).replies()
    # A declared length short of the body resyncs on the next header; a longer one swallows whole
    # messages after it, as the protocol says it must, but never the last ones once it is met.
    assert 3 in replies or declared > len(body)
    assert all(r["error"]["code"] == -32002 for r in replies.values() if r.get("id") in (1, 2, 3))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
              st.just("\ud800"), st.just(10**30), st.just(float("inf"))),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)
FIELDS = ("path", "language", "kind", "symbol", "start_line", "end_line", "sha256", "input", "reasoning", "output",
          "teacher", "created_at", "prompt_version")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), json_values), st.booleans())
def test_import_validator_rejects_or_yields_a_storable_sample(tmp_path_factory, fields: dict, from_good: bool):
    text = "def f(): pass"
    good = {"path": "a.py", "language": "python", "kind": "function", "symbol": "f", "input": text,
            "sha256": __import__("hashlib").sha256(text.encode()).hexdigest(), "output": "Does nothing.", "teacher": "t"}
    record = {**good, **fields} if from_good else fields
    sample, problem = sample_from_record(record)
    assert (sample is None) != (problem is None)
    if sample is not None:  # whatever passes must store: a real SQLite file, inside a transaction
        root = tmp_path_factory.mktemp("ws")
        store = Store.for_workspace(root)
        try:
            with store.transaction():
                Samples(store).add(sample)
            assert Samples(store).count() == 1
        finally:
            store.close()
