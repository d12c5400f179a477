"""The language server as an editor meets it, over stdio with a real LSP client."""

from __future__ import annotations

import asyncio
import json

from lsprotocol import types

from tests.conftest import run_cli
from tests.serve.conftest import (hover, lab_copy, lsp, position_of, status, train_tiny_student, type_unsaved,
                                  wait_for)


async def test_hover_answers_from_teacher_then_student_then_structure(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    run_cli("distill", str(root), "--limit", "6")
    train_tiny_student(root)
    samples = [json.loads(line) for line in (root / ".trm-lsp" / "train.jsonl").read_text().splitlines()]
    taught = {s["symbol"] for s in samples}
    factorial = root / "factorial.py"
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        # A symbol the teacher explained: its answer, the teacher named, reasoning folded.
        name = next(n for n in ("factorial_recursive", "factorial_iterative", "MemoFactorial") if n in taught)
        line, col = position_of(factorial, name)
        result = await hover(client, factorial, line, col + 2)
        text = result.contents.value
        assert "teacher deepseek-r1:1.5b" in text and f"**{name}**" in text
        assert "<details><summary>Teacher's reasoning</summary>" in text
        # A symbol it did not: the student answers and says so.
        untaught = next(n for n in ("factorial_recursive", "factorial_iterative", "MemoFactorial") if n not in taught)
        line, col = position_of(factorial, f"def {untaught}" if untaught.startswith("f") else f"class {untaught}")
        result = await hover(client, factorial, line, col + 6)
        assert "TRM student" in result.contents.value
        state = await status(client)
        assert state["student"]["version"] and not state["student"]["problem"]
    # The checkpoint corrupt: hover still answers, from the structure, and says why.
    (root / ".trm-lsp" / "student" / "model.safetensors").write_bytes(b"not a tensor file")
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        line, col = position_of(factorial, f"def {untaught}" if untaught.startswith("f") else f"class {untaught}")
        result = await hover(client, factorial, line, col + 6)
        text = result.contents.value
        assert "not yet explained" in text and "student checkpoint unusable" in text
        assert "n! " in text or "Function" in text or "Class" in text


async def test_code_lens_explain_command_progress_and_an_edit(tmp_path, teacher):
    teacher.delay = 0.2  # slow enough that a queue forms
    root = lab_copy(tmp_path, teacher.url)
    factorial = root / "factorial.py"
    async with lsp(root) as client:
        refreshes = []
        client.feature(types.WORKSPACE_CODE_LENS_REFRESH)(lambda *args: refreshes.append(1))
        await wait_for(client, lambda s: s["indexed"] and s["queue"] > 5)
        lenses = await client.text_document_code_lens_async(types.CodeLensParams(
            text_document=types.TextDocumentIdentifier(uri=factorial.as_uri())))
        assert len(lenses) >= 5 and all(lens.command is None for lens in lenses)  # resolved lazily
        resolved = [await client.code_lens_resolve_async(lens) for lens in lenses]
        titles = {lens.data["qualname"]: lens.command.title for lens in resolved}
        assert titles["factorial_iterative"] == "Explain this function"
        assert titles["MemoFactorial"] == "Explain this class"
        assert titles["MemoFactorial.__call__"] == "Explain this function"
        # Explaining a symbol the teacher has not reached: first in its queue, student/structure meanwhile.
        last = resolved[-1]
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=last.command.command, arguments=last.command.arguments))
        assert result["symbol"] == last.data["qualname"] and result["source"] in ("structure", "student", "teacher")
        assert client.shown_documents and client.shown_documents[-1].uri.endswith(".md")
        page = client.shown_documents[-1].uri.removeprefix("file://")
        assert last.data["qualname"] in open(page, encoding="utf-8").read()
        line = last.data["line"]
        for _ in range(200):
            again = await client.workspace_execute_command_async(types.ExecuteCommandParams(
                command="trm-lsp.explain", arguments=[{"uri": factorial.as_uri(), "line": line}]))
            if again["source"] == "teacher":
                break
            await asyncio.sleep(0.1)
        assert again["source"] == "teacher"
        assert (await status(client))["queue"] > 0, "the explained symbol jumped the queue"
        assert refreshes, "no workspace/codeLens/refresh after answers landed"
        # Progress: indexing went begin -> end on a server-created token.
        indexing = [values for token, values in client.progress_reports.items() if "indexing" in str(token)]
        assert indexing and isinstance(indexing[0][0], types.WorkDoneProgressBegin)
        assert isinstance(indexing[0][-1], types.WorkDoneProgressEnd) and "symbols" in indexing[0][-1].message
        distilling = [values for token, values in client.progress_reports.items() if "distilling" in str(token)]
        assert distilling and any(isinstance(v, types.WorkDoneProgressReport) and v.percentage is not None
                                  for v in distilling[0])
        # An edit renames a function in the buffer (unsaved): hover follows the buffer.
        text = factorial.read_text(encoding="utf-8")
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=factorial.as_uri(), language_id="python", version=1, text=text)))
        line, col = position_of(factorial, "def factorial_iterative")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=factorial.as_uri(), version=2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=line, character=col + 4),
                                  end=types.Position(line=line, character=col + 4 + len("factorial_iterative"))),
                text="factorial_loop")]))
        for _ in range(100):
            result = await hover(client, factorial, line, col + 6)
            if result is not None and "**factorial_loop**" in result.contents.value:
                break
            await asyncio.sleep(0.05)
        assert result is not None and "**factorial_loop**" in result.contents.value
        # New text: no answer cached for it, and queued at the head at once. The stand-in teacher
        # answers at once too, so the hover may see the queue position or already the new text's
        # own answer (the old text's answer names factorial_iterative), never the old one.
        for _ in range(100):
            value = (await hover(client, factorial, line, col + 6)).contents.value
            assert "factorial_iterative computes" not in value, value
            queued = "not yet explained: queued, position" in value or "TRM student (teacher queue position" in value
            answered = "factorial_loop computes its result" in value and "*teacher deepseek-r1:1.5b" in value
            if queued or answered:
                break
            await asyncio.sleep(0.1)
        assert queued or answered, value


async def test_bad_positions_unknown_buffers_and_a_request_storm(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    factorial = root / "factorial.py"
    outside = tmp_path / "elsewhere.py"
    outside.write_text("def stranger():\n    return 1\n", encoding="utf-8")
    bundle = root / "bundle.min.js"  # minified: 2,000 functions on its first line
    bundle.write_text("".join(f"function f{n}(a){{return a+{n}}};" for n in range(2000)) + "\nfunction last(){}\n")
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        lenses = await client.text_document_code_lens_async(types.CodeLensParams(
            text_document=types.TextDocumentIdentifier(uri=bundle.as_uri())))
        assert [lens.data["qualname"] for lens in lenses] == ["f0", "last"]  # one a line, not 2,001
        assert await hover(client, factorial, 10_000, 0) is None
        assert await hover(client, factorial, 3, 10_000) is None
        assert await hover(client, outside, 0, 5) is None
        lenses = await client.text_document_code_lens_async(types.CodeLensParams(
            text_document=types.TextDocumentIdentifier(uri=outside.as_uri())))
        assert not lenses
        for uri, language in (("untitled:Untitled-1", "plaintext"), ((root / "notes.xyz").as_uri(), "xyz")):
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text="def looks_like_code():\n    pass\n")))
            result = await client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=6)))
            assert result is None
        # 1,000 hovers, 50 in flight: every one answered, none an error.
        line, col = position_of(factorial, "def factorial_recursive")
        gate = asyncio.Semaphore(50)

        async def one(n: int):
            async with gate:
                return await hover(client, factorial, line, col + 4 + n % 10)

        results = await asyncio.gather(*(one(n) for n in range(1000)))
        assert all(r is not None and "factorial_recursive" in r.contents.value for r in results)
        assert client.error is None


async def test_teacher_down_hover_still_answers_with_one_message(tmp_path):
    from tests.conftest import free_port

    root = lab_copy(tmp_path, f"http://127.0.0.1:{free_port()}")
    factorial = root / "factorial.py"
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"] and s["teacher"]["state"] == "down")
        line, col = position_of(factorial, "def factorial_recursive")
        result = await hover(client, factorial, line, col + 6)
        # No teacher answer and no workspace student yet: the shipped base answers (or its gate
        # declines, and the structure answers), and says the queue.
        value = result.contents.value
        assert "TRM student (teacher queue position" in value or (
            "queued, position" in value and "the student declined" in value), value
        assert ", the teacher is not answering" in value  # a queue position alone promises an answer
        await asyncio.sleep(1.5)  # several probes fail meanwhile: still one message
        down = [m for m in client.messages if "teacher is not answering" in m.message]
        assert len(down) == 1 and down[0].type == types.MessageType.Warning
        assert "start it with `ollama serve`" in down[0].message and "tried again every 0.5 s" in down[0].message
        assert "Please check that Ollama" not in down[0].message  # the client library's advice is not said twice
        assert not [m for m in client.log_messages if "teacher is not answering" in m.message]  # shown, not also logged


async def test_a_folder_that_cannot_be_indexed_is_said_and_the_other_folders_are_served(tmp_path, teacher):
    import os

    good = lab_copy(tmp_path, teacher.url)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "m.py").write_text("def m():\n    return 1\n", encoding="utf-8")
    (bad / ".trm-lsp").write_text("a file where the index folder would go\n", encoding="utf-8")
    blocked = tmp_path / "state"
    blocked.write_text("a file where the user's state directory would go\n", encoding="utf-8")
    async with lsp(good, folders=[bad, good], env={**os.environ, "XDG_STATE_HOME": str(blocked)}) as client:
        state = await wait_for(client, lambda s: s["indexed"])
        assert [f["workspace"] for f in state["folders"]] == [str(good)]
        assert len(state["unserved"]) == 1 and state["unserved"][0]["root"] == str(bad)
        errors = [m for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and errors[0].message.startswith("trm-lsp: bad is not indexed"), errors
        assert f"cannot write {bad / '.trm-lsp'}" in errors[0].message and "Error in server" not in errors[0].message
        factorial = good / "factorial.py"
        line, col = position_of(factorial, "def factorial_recursive")
        result = await hover(client, factorial, line, col + 6)
        assert result is not None and "factorial_recursive" in result.contents.value


async def test_a_folder_that_does_not_exist_is_said_and_never_created(tmp_path, teacher):
    """An editor's saved workspace may name a folder on a drive not mounted today, at start or
    added later: it is listed as unserved with the reason, and nothing is created on disk."""
    good = lab_copy(tmp_path, teacher.url)
    missing, later = tmp_path / "unmounted" / "project", tmp_path / "elsewhere" / "other"
    async with lsp(good, folders=[missing, good]) as client:
        await wait_for(client, lambda s: s["indexed"])
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=later.as_uri(), name="other")], removed=[])))
        state = await wait_for(client, lambda s: len(s["unserved"]) == 2)
        assert {u["root"]: u["problem"] for u in state["unserved"]} == {
            str(missing): f"{missing} does not exist", str(later): f"{later} does not exist"}
        assert [f["workspace"] for f in state["folders"]] == [str(good)]
        said = [m.message for m in client.messages if "does not exist" in m.message]
        assert len(said) == 2 and said[0].startswith("trm-lsp: project is not indexed"), said
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[], removed=[types.WorkspaceFolder(uri=later.as_uri(), name="other")])))
        state = await wait_for(client, lambda s: len(s["unserved"]) == 1)
    assert not (tmp_path / "unmounted").exists() and not (tmp_path / "elsewhere").exists()


def lsp_frames(data: bytes) -> list[dict]:
    """Split a server's stdout into LSP messages; anything else in it fails the test."""
    import re

    messages, at = [], 0
    header = re.compile(rb"Content-Length: (\d+)\r\n(?:[^\r\n]+\r\n)*\r\n")
    while at < len(data):
        match = header.match(data, at)
        assert match, f"not an LSP frame at byte {at}: {data[at:at + 80]!r}"
        body_end = match.end() + int(match.group(1))
        messages.append(json.loads(data[match.end():body_end]))
        at = body_end
    return messages


async def test_client_vanishing_without_shutdown_stops_the_daemon_and_loses_nothing(tmp_path, teacher):
    import sys

    root = lab_copy(tmp_path, teacher.url)
    log = (tmp_path / "stderr.log").open("wb")
    import os

    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "trm_lsp", "serve",
                                                env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=log)
    drain = asyncio.ensure_future(proc.stdout.read())  # an editor reads what the server writes
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": None, "rootUri": root.as_uri(), "capabilities": {}}}).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    note = json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(note), note))
    await proc.stdin.drain()
    daemon_file = root / ".trm-lsp" / "daemon.json"
    for _ in range(200):
        if daemon_file.exists() and teacher.calls >= 3:
            break
        await asyncio.sleep(0.05)
    assert daemon_file.exists()
    proc.stdin.close()  # the editor is gone: no shutdown, no exit
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except asyncio.TimeoutError:
        import signal
        proc.send_signal(signal.SIGABRT)
        await proc.wait()
        raise AssertionError((tmp_path / "stderr.log").read_text()[-12000:])
    messages = lsp_frames(await drain)  # stdout carried LSP messages and nothing else
    assert any(m.get("id") == 1 and "capabilities" in m.get("result", {}) for m in messages)
    assert not daemon_file.exists()
    exported = run_cli("export", str(root), "-o", str(tmp_path / "out.jsonl"))
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) >= 1 and all(json.loads(line)["output"] for line in lines), exported.stderr


async def test_a_bad_setting_is_named_and_the_server_goes_on(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    options = {"teacher": {"modell": "x"}, "serverCommand": ["trm-lsp", "serve"]}  # the last is the client's own
    async with lsp(root, options=options) as client:
        await wait_for(client, lambda s: s["indexed"])
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and "unknown setting 'teacher.modell'" in errors[0]
        factorial = root / "factorial.py"
        line, col = position_of(factorial, "def factorial_recursive")
        assert "**factorial_recursive**" in (await hover(client, factorial, line, col + 6)).contents.value


async def test_a_teacher_model_changed_in_the_editor_is_the_one_asked_next(tmp_path, teacher):
    teacher.models.add("other:7b")
    root = lab_copy(tmp_path, teacher.url, distill=True)
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"] and s["samples"] > 0 and s["queue"] == 0)
        asked_before = -1
        while asked_before != len(teacher.asked):  # the last claimed job ("queue" counts pending ones) has landed
            asked_before = len(teacher.asked)
            await asyncio.sleep(0.5)
        # One bad key beside the good one: it alone falls back, and says so.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"trm-lsp": {"teacher": {"model": "other:7b", "timeout": "slow"}, "serve": {"mcpPort": 1}}}))
        state = await wait_for(client, lambda s: s["teacher"]["model"] == "other:7b" and len(teacher.asked) > asked_before)
        assert state["teacher"]["state"] != "off"
        await wait_for(client, lambda s: s["queue"] == 0)
        assert set(teacher.asked[asked_before:]) == {"other:7b"}, teacher.asked[asked_before:]
        messages = [m.message for m in client.messages]
        assert sum("bad setting" in m for m in messages) == 1 and any("'teacher.timeout'" in m for m in messages)
        assert any("restart needed for serve.mcp_port" in m for m in messages)


async def test_a_student_that_declines_shows_the_structure_and_the_closest_teacher_answer(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    run_cli("distill", str(root), "--limit", "4")
    train_tiny_student(root)
    config = root / ".trm-lsp" / "student" / "config.json"
    meta = json.loads(config.read_text())
    meta["gate"] = 0.0  # every readability score (a mean log-probability) is below 0: the student declines all
    config.write_text(json.dumps(meta))
    taught = {json.loads(line)["symbol"] for line in (root / ".trm-lsp" / "train.jsonl").read_text().splitlines()}
    factorial = root / "factorial.py"
    untaught = next(n for n in ("factorial_recursive", "factorial_iterative", "MemoFactorial") if n not in taught)
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        line, col = position_of(factorial, f"def {untaught}" if untaught.startswith("f") else f"class {untaught}")
        text = (await hover(client, factorial, line, col + 6)).contents.value
        assert "the student declined" in text and "TRM student" not in text
        closest = text.split("Closest explained symbol: `", 1)[1].split("`", 1)[0]
        assert closest in taught and "(teacher)" in text


async def test_a_store_damaged_while_serving_is_rebuilt_once_keeping_the_answers(tmp_path, teacher):
    import random
    import sqlite3

    root = lab_copy(tmp_path, teacher.url, distill=False)
    for i in range(120):
        (root / f"gen{i}.py").write_text("".join(f"def g{i}_{n}(x):\n    return x * {n} + {i}\n\n" for n in range(20)))
    run_cli("distill", str(root), "--limit", "40")
    db = root / ".trm-lsp" / "index.sqlite3"
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        check = sqlite3.connect(db)
        check.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        check.close()
        data = bytearray(db.read_bytes())  # pages the daemon has not read yet: the symbols of gen*.py
        rng = random.Random(2)
        for start in range(len(data) // 4, 3 * len(data) // 4, 8192):
            data[start:start + 2048] = rng.randbytes(2048)
        db.write_bytes(bytes(data))
        errors = []
        for i in range(120):
            try:
                await hover(client, root / f"gen{i}.py", 0, 5)
            except Exception as exc:  # the request that met the damage gets an error that says so
                errors.append(str(exc))
        assert errors and "is damaged and is being rebuilt" in errors[0], errors[:3]
        await wait_for(client, lambda s: s.get("indexed") and s.get("samples", 0) > 0, timeout=60)
        notices = [m.message for m in client.messages if "the index was damaged" in m.message]
        assert len(notices) == 1 and "teacher answers that could still be read were kept" in notices[0]
        result = await hover(client, root / "factorial.py", *position_of(root / "factorial.py", "factorial_iterative"))
        assert result is not None and "factorial_iterative" in result.contents.value
    assert (root / ".trm-lsp" / "damaged.sqlite3").exists()


async def _rename_in_the_buffer(client, path, old: str, new: str) -> None:
    """Open `path` in the editor and type `new` over `old` (unsaved)."""
    type_unsaved(client, path, path.read_text(encoding="utf-8").replace(old, new))


async def test_an_edit_closed_unsaved_within_the_quiet_spell_never_reaches_the_index(tmp_path, teacher):
    """A rename typed and closed without saving inside `serve.debounceMs` was indexed after the
    close (a probe, stop 41): the index named a function that exists nowhere, the teacher was asked
    about it, and a hover on the real name found nothing until the file was touched again."""
    import sqlite3

    from trm_lsp.store import state_dir

    root = lab_copy(tmp_path, teacher.url, distill=False)
    factorial = root / "factorial.py"
    line, col = position_of(factorial, "def factorial_iterative")
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        await _rename_in_the_buffer(client, factorial, "def factorial_iterative", "def factorial_discarded")
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=factorial.as_uri())))
        await asyncio.sleep(1.0)  # ten quiet spells
        result = await hover(client, factorial, line, col + 6)
        assert result is not None and "**factorial_iterative**" in result.contents.value
        with sqlite3.connect(state_dir(root) / "index.sqlite3") as db:
            names = {row[0] for row in db.execute("SELECT s.name FROM symbols s JOIN files f ON f.id = s.file_id "
                                                  "WHERE f.path = 'factorial.py'")}
        assert "factorial_iterative" in names and "factorial_discarded" not in names, names


async def test_a_hover_right_after_typing_is_about_the_code_as_typed(tmp_path, teacher):
    """Within `serve.debounceMs` of an edit, a hover showed the answer for the code before it, and
    said nothing of it (a probe, stop 41): the hover extracts the buffer first."""
    root = lab_copy(tmp_path, teacher.url, distill=False)
    factorial = root / "factorial.py"
    line, col = position_of(factorial, "def factorial_iterative")
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        await _rename_in_the_buffer(client, factorial, "def factorial_iterative", "def factorial_loop")
        result = await hover(client, factorial, line, col + 6)
        assert result is not None and "**factorial_loop**" in result.contents.value, result


async def test_a_syntax_error_typed_unsaved_is_named_where_the_definition_went_missing(tmp_path, teacher):
    """The note on why a line has no symbol read the file on disk: with a definition broken in the
    unsaved buffer, which is what the index holds, it said nothing (noticed at stop 44)."""
    from pygls.exceptions import JsonRpcInvalidParams

    root = lab_copy(tmp_path, teacher.url, distill=False)
    factorial = root / "factorial.py"
    line, _ = position_of(factorial, "def factorial_iterative")
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        await _rename_in_the_buffer(client, factorial, "factorial_iterative(n: int) -> int:",
                                   "factorial_iterative(n: int -> int:")
        for _ in range(100):
            try:
                await client.workspace_execute_command_async(types.ExecuteCommandParams(
                    command="trm-lsp.explain", arguments=[{"uri": factorial.as_uri(), "line": line + 1}]))
            except JsonRpcInvalidParams as exc:
                error = str(exc)
                break
            await asyncio.sleep(0.05)  # the buffer is extracted after its quiet spell
        else:
            raise AssertionError("the broken definition was still found")
        assert f"factorial.py has a syntax error at line {line + 1}" in error, error
