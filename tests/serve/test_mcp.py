"""MCP from the running daemon, with real MCP clients: fastmcp's `Client` over streamable HTTP,
and over stdio through `trm-lsp mcp`."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time

import httpx
import pytest
from lsprotocol import types
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError

from tests.conftest import run_cli
from tests.serve.conftest import lab_copy, lsp, type_unsaved, wait_for


#: A raw MCP `initialize` over HTTP, for what a client library would not send (bad Origin, Host, token).
HELLO = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def daemon_url(root) -> str:
    return json.loads((root / ".trm-lsp" / "daemon.json").read_text())["mcp_url"]


async def test_tools_answer_with_citations_and_refuse_what_they_must(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    (root / "uses.py").write_text("from factorial import factorial_iterative\n\n\ndef table(n):\n"
                                  "    return [factorial_iterative(k) for k in range(n)]\n", encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / "deep.py").write_text("def deep():\n    return 1\n", encoding="utf-8")
    run_cli("distill", str(root))
    async with lsp(root) as client:
        state = await wait_for(client, lambda s: s["indexed"] and s["mcp_url"])
        url = daemon_url(root)
        assert url == state["mcp_url"] and url.startswith("http://127.0.0.1:")
        async with Client(url) as mcp:
            names = {tool.name for tool in await mcp.list_tools()}
            assert {"consult_logic_model", "explain_symbol", "list_symbols", "trace_logic", "status"} <= names
            reply = await mcp.call_tool("consult_logic_model", {"query": "how is the factorial computed with a loop?"})
            text = reply.content[0].text
            assert "factorial.py:13" in text and "factorial_iterative" in text
            narrowed = await mcp.call_tool("consult_logic_model", {"query": "what does this do?",
                                                                   "file": "factorial.py", "line": 30})
            assert "`factorial.py:29` method `MemoFactorial.__call__`" in narrowed.content[0].text
            trace = (await mcp.call_tool("trace_logic", {"symbol": "factorial_iterative"})).structured_content
            assert {"path": "uses.py", "line": 5, "in": "table"} in trace["callers"]
            assert [c["symbol"] for c in (await mcp.call_tool("trace_logic", {"symbol": "table"})).structured_content[
                "callees"]] == ["factorial_iterative"]
            explained = (await mcp.call_tool("explain_symbol", {"symbol": "MemoFactorial"})).structured_content
            assert explained["source"] == "teacher" and explained["path"] == "factorial.py"
            listed = (await mcp.call_tool("list_symbols", {"file": "factorial.py"})).structured_content
            assert [s["symbol"] for s in listed["result"]][:2] == ["factorial_recursive", "factorial_iterative"]
            # What narrows a question but names nothing indexed is said, never quietly dropped.
            unknown = await mcp.call_tool("consult_logic_model", {"query": "sum", "symbol": "NoSuchThing"})
            assert "No symbol named 'NoSuchThing'" in unknown.content[0].text
            past = await mcp.call_tool("consult_logic_model", {"query": "what is this", "file": "factorial.py",
                                                               "line": 999})
            assert "Line 999 is past the last symbol of factorial.py" in past.content[0].text
            for args, said in (({"file": "nonexistent.py"}, "nonexistent.py: no such file"),
                               ({"file": "factorial.py", "line": 0}, "greater than or equal to 1")):
                with pytest.raises(ToolError, match=said):
                    await mcp.call_tool("consult_logic_model", {"query": "what is this", **args})
            for tool, args in (("list_symbols", {}), ("explain_symbol", {"symbol": "gcd"}),
                               ("trace_logic", {"symbol": "gcd"})):
                with pytest.raises(ToolError, match="nope.py: no such file"):
                    await mcp.call_tool(tool, {**args, "file": "nope.py"})
            narrowed = (await mcp.call_tool("list_symbols", {"file": "sub", "query": "factorial"})).structured_content
            assert narrowed["result"] == []  # the query within the folder: factorial is elsewhere
            folder = (await mcp.call_tool("list_symbols", {"file": "sub"})).structured_content["result"]
            assert [(s["path"], s["symbol"]) for s in folder] == [("sub/deep.py", "deep")]
            huge = await mcp.call_tool("consult_logic_model", {"query": "factorial " * 5000})
            assert "cut to its first 2000 characters" in huge.content[0].text
            for outside in ("../elsewhere.py", "/etc/passwd"):
                with pytest.raises(ToolError, match="outside the workspace"):
                    await mcp.call_tool("consult_logic_model", {"query": "what is this", "file": outside})
        # DNS rebinding: a page on another origin, or a Host that is not loopback, is refused.
        async with httpx.AsyncClient() as http:
            good = await http.post(url, json=HELLO, headers=HEADERS)
            assert good.status_code == 200
            evil = await http.post(url, json=HELLO, headers={**HEADERS, "origin": "http://evil.example"})
            assert evil.status_code in (403, 421), evil.text
            rebound = await http.post(url, json=HELLO, headers={**HEADERS, "host": "evil.example"})
            assert rebound.status_code in (403, 421), rebound.text


async def test_token_busy_port_and_the_stdio_bridge(tmp_path, teacher):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        root = lab_copy(tmp_path, teacher.url, distill=False, mcp_port=busy, extra='mcp_token = "s3cret"')
        async with lsp(root) as client:
            state = await wait_for(client, lambda s: s["indexed"] and s["mcp_url"])
            url = state["mcp_url"]
            assert f":{busy}/" not in url
            assert any(f"port {busy} is busy" in m.message for m in client.messages)
            async with httpx.AsyncClient() as http:
                for auth in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic s3cret"},
                             {"authorization": "s3cret"}):
                    refused = await http.post(url, json=HELLO, headers={**HEADERS, **auth})
                    assert refused.status_code == 401
                for scheme in ("bearer", "BEARER"):  # the scheme is case-insensitive
                    accepted = await http.post(url, json=HELLO, headers={**HEADERS, "authorization": f"{scheme} s3cret"})
                    assert accepted.status_code == 200, accepted.text
            with pytest.raises(Exception):
                async with Client(url) as mcp:
                    await mcp.list_tools()
            async with Client(url, auth="s3cret") as mcp:
                assert (await mcp.call_tool("status", {})).structured_content["mcp_url"] == url
            # `trm-lsp mcp` over stdio reaches the same daemon (it reads daemon.json and the token).
            bridge = StdioTransport(sys.executable, ["-m", "trm_lsp", "mcp", str(root)])
            async with Client(bridge) as mcp:
                status = (await mcp.call_tool("status", {})).structured_content
                assert status["mcp_url"] == url and status["workspace"] == str(root)
            # The token set where the bridge does not read it (the editor's settings): said, and
            # not bridged into an empty tool list.
            toml = root / "trm-lsp.toml"
            toml.write_text(toml.read_text(encoding="utf-8").replace('mcp_token = "s3cret"', ""), encoding="utf-8")
            refused = await asyncio.to_thread(run_cli, "mcp", str(root), check=False)
            assert refused.returncode == 1 and refused.stdout == ""
            assert "wants a bearer token (serve.mcpToken)" in refused.stderr, refused.stderr


async def test_stdio_mcp_with_a_daemon_file_left_behind_serves_headless(tmp_path, teacher):
    """A daemon killed with -9 leaves daemon.json; by now its pid may be another process's
    (here: this test's own). The bridge finds nobody at the URL and serves the workspace itself."""
    import os

    from tests.conftest import free_port

    root = lab_copy(tmp_path, teacher.url, distill=False)
    run_cli("index", str(root))
    gone = f"http://127.0.0.1:{free_port()}/mcp"
    (root / ".trm-lsp" / "daemon.json").write_text(json.dumps({"pid": os.getpid(), "mcp_url": gone}))
    async with Client(StdioTransport(sys.executable, ["-m", "trm_lsp", "mcp", str(root)])) as mcp:
        names = {tool.name for tool in await mcp.list_tools()}
        assert "consult_logic_model" in names
        status = (await mcp.call_tool("status", {})).structured_content
        assert status["workspace"] == str(root) and status["mcp_url"] != gone


async def test_stdio_mcp_without_a_daemon_serves_headless(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False, documents=True)  # OCR: seconds of indexing
    transport = StdioTransport(sys.executable, ["-m", "trm_lsp", "mcp", str(root)])
    async with Client(transport) as mcp:
        # Asked at once, before the first index is done: it waits for the index, and the
        # question after it is not held to the empty store either.
        for question in ("how is the factorial computed with a loop?", "what does gcd return?"):
            reply = (await mcp.call_tool("consult_logic_model", {"query": question})).structured_content
            assert reply["sources"], reply
        listed = (await mcp.call_tool("list_symbols", {"query": "Euclid gcd"})).structured_content
        assert any(s["path"].startswith("gcd.") for s in listed["result"])


async def test_consult_is_short_grounded_and_structured(tmp_path, teacher):
    """An answer first and within its budget even when the explanations are huge; sources that
    exist at the cited line now, also after an edit moved them; structured content that
    validates against the tool's own schema."""
    import sqlite3

    import jsonschema

    from trm_lsp.serve.consult import BRIEF_WORDS

    root = lab_copy(tmp_path, teacher.url, distill=False)
    run_cli("distill", str(root))
    huge = " ".join(["The loop multiplies the running product by each integer up to n."] * 500)
    db = root / ".trm-lsp" / "index.sqlite3"
    with sqlite3.connect(db) as conn:  # one enormous stored explanation
        conn.execute("UPDATE samples SET output = ? WHERE sha256 = (SELECT sha256 FROM symbols WHERE qualname = ?)",
                     (huge, "factorial_iterative"))
    factorial = root / "factorial.py"
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"] and s["mcp_url"])
        async with Client(daemon_url(root)) as mcp:
            tool = next(t for t in await mcp.list_tools() if t.name == "consult_logic_model")
            reply = await mcp.call_tool("consult_logic_model", {"query": "how is the factorial computed with a loop?"})
            data = reply.structured_content
            jsonschema.validate(data, tool.output_schema)
            assert len(data["answer"].split()) <= BRIEF_WORDS + 1 and 1 <= len(data["sources"]) <= 5
            text = reply.content[0].text
            assert text.startswith(data["answer"][:40]) and len(text.split()) < 400
            assert text.count("The loop multiplies the running product") == 1  # nothing said twice
            loop = next(s for s in data["sources"] if s["symbol"] == "factorial_iterative")
            assert (loop["path"], loop["line"]) == ("factorial.py", 13)
            assert loop["explained_by"].startswith("teacher ") and loop["age_s"] >= 0
            full = (await mcp.call_tool("consult_logic_model", {"query": "how is the factorial computed with a loop?",
                                                                 "detail": "full"})).structured_content
            excerpt = next(s["excerpt"] for s in full["sources"] if s["symbol"] == "factorial_iterative")
            assert excerpt.startswith("def factorial_iterative") and len(excerpt) <= 1300
            # An edit moves the function down 3 lines; the search index still holds the old row.
            factorial.write_text("# one\n# two\n# three\n" + factorial.read_text(encoding="utf-8"), encoding="utf-8")
            client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
                types.FileEvent(uri=factorial.as_uri(), type=types.FileChangeType.Changed)]))
            for _ in range(100):
                moved = (await mcp.call_tool("consult_logic_model", {"query": "how is the factorial computed with a loop?"}))
                cited = {(s["symbol"], s["line"]) for s in moved.structured_content["sources"]}
                if ("factorial_iterative", 16) in cited:
                    break
                await asyncio.sleep(0.1)
            assert ("factorial_iterative", 16) in cited and ("factorial_iterative", 13) not in cited
            for source in moved.structured_content["sources"]:  # every cited line holds its symbol
                lines = (root / source["path"]).read_text(encoding="utf-8").splitlines()
                assert source["symbol"].rsplit(".", 1)[-1] in "\n".join(lines[source["line"] - 1: source["line"] + 2])


async def test_huge_or_out_of_range_arguments_are_refused_fast_and_block_no_hover(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"] and s["mcp_url"])
        async with Client(daemon_url(root)) as mcp:
            huge = "a.b " * 900000
            for tool, args in (("trace_logic", {"symbol": huge}), ("explain_symbol", {"symbol": "x", "file": huge}),
                               ("list_symbols", {"kind": huge, "query": "gcd"}),
                               ("consult_logic_model", {"query": "gcd", "symbol": huge})):
                started = time.perf_counter()
                hover = asyncio.ensure_future(client.text_document_hover_async(types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=(root / "factorial.py").as_uri()),
                    position=types.Position(line=12, character=6))))
                with pytest.raises(ToolError) as refused:
                    await mcp.call_tool(tool, args)
                assert "1000" in str(refused.value) and len(str(refused.value)) < 2000, tool
                await asyncio.wait_for(hover, 5)
                assert time.perf_counter() - started < 3, tool
            for line in (10**20, -1):
                with pytest.raises(ToolError):
                    await mcp.call_tool("consult_logic_model", {"query": "gcd", "file": "gcd.c", "line": line})
            reply = await mcp.call_tool("consult_logic_model", {"query": "gcd", "file": "gcd.c", "line": 2**31 - 1})
            assert "Python int" not in reply.content[0].text


async def test_when_one_of_two_editors_quits_daemon_json_names_the_other(tmp_path, teacher):
    """daemon.json names the newest daemon of a workspace; the second editor's daemon quitting
    deleted it though the first still ran, and `trm-lsp mcp` then started a third process on the
    same store (a probe, stop 41)."""
    root = lab_copy(tmp_path, teacher.url, distill=False)
    daemon_file = root / ".trm-lsp" / "daemon.json"
    async with lsp(root) as first:
        await wait_for(first, lambda s: s["indexed"])
        a = json.loads(daemon_file.read_text())
        async with lsp(root) as second:
            await wait_for(second, lambda s: s["indexed"])
            b = json.loads(daemon_file.read_text())
            assert b["pid"] != a["pid"] and b["mcp_url"] != a["mcp_url"]
        after = json.loads(daemon_file.read_text())
        assert (after["pid"], after["mcp_url"]) == (a["pid"], a["mcp_url"])
    assert not daemon_file.exists()


async def test_trace_logic_reads_a_caller_typed_unsaved_in_the_editor(tmp_path, teacher):
    """Callers were read from the files on disk: a call typed in the editor and not saved yet was
    missing, though the index and every other tool already had the buffer (noticed at stop 44)."""
    root = lab_copy(tmp_path, teacher.url, distill=False)
    uses = root / "uses.py"
    uses.write_text("from factorial import factorial_iterative\n\n\ndef table(n):\n"
                    "    return [factorial_iterative(k) for k in range(n)]\n", encoding="utf-8")
    typed = uses.read_text(encoding="utf-8") + "\n\ndef biggest(n):\n    return factorial_iterative(n)\n"
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"] and s["mcp_url"])
        type_unsaved(client, uses, typed)
        async with Client(daemon_url(root)) as mcp:
            for _ in range(100):
                trace = (await mcp.call_tool("trace_logic", {"symbol": "factorial_iterative"})).structured_content
                if {"path": "uses.py", "line": 9, "in": "biggest"} in trace["callers"]:
                    break
                await asyncio.sleep(0.05)  # the buffer is indexed after its quiet spell
            assert {"path": "uses.py", "line": 9, "in": "biggest"} in trace["callers"], trace["callers"]
            assert {"path": "uses.py", "line": 5, "in": "table"} in trace["callers"]
            client.text_document_did_close(types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uses.as_uri())))
            for _ in range(100):  # closed unsaved: the file on disk again
                trace = (await mcp.call_tool("trace_logic", {"symbol": "factorial_iterative"})).structured_content
                if all(c["in"] != "biggest" for c in trace["callers"]):
                    break
                await asyncio.sleep(0.05)
            assert [c for c in trace["callers"] if c["path"] == "uses.py"] == [{"path": "uses.py", "line": 5, "in": "table"}]
