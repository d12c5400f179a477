"""Files changed outside the editor: the server asks the editor to watch every file kind it reads,
and a file created behind the editor's back is then answered for."""

from __future__ import annotations

import asyncio
import fnmatch
import shutil

from lsprotocol import types

from tests.serve.conftest import hover, lab_copy, lsp, position_of, wait_for

WATCHING = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(
    did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True),
    configuration=False))


async def test_the_editor_is_asked_to_watch_and_a_file_created_outside_it_is_then_answered_for(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    registered: list[types.Registration] = []

    def register(params: types.RegistrationParams) -> None:
        registered.extend(params.registrations)

    async with lsp(root, capabilities=WATCHING, handlers={types.CLIENT_REGISTER_CAPABILITY: register}) as client:
        await wait_for(client, lambda s: s["indexed"])
        assert [r.method for r in registered] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
        watchers = registered[0].register_options["watchers"]  # raw JSON: the options are typed by method
        globs = [w["globPattern"] for w in watchers if "kind" not in w]  # every change of a file it reads
        for name in ("tools/fresh.py", "cmd/main.go", "docs/spec.pdf", "diagrams/flow.drawio", "src/lib.rs"):
            assert any(fnmatch.fnmatch(name, g) for g in globs), name
        assert not any(fnmatch.fnmatch(".trm-lsp/index.sqlite", g) for g in globs)  # its own writes are not news
        # A folder created, moved or deleted comes as one event for the folder: any path's.
        assert {"globPattern": "**/*", "kind": int(types.WatchKind.Create | types.WatchKind.Delete)} in watchers

        fresh = root / "tools" / "fresh.py"
        fresh.parent.mkdir()
        fresh.write_text("def brand_new_helper(count):\n    return [0] * count\n", encoding="utf-8")
        line, column = position_of(fresh, "brand_new_helper")
        assert await hover(client, fresh, line, column) is None  # not seen yet: no editor event
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
            types.FileEvent(uri=fresh.as_uri(), type=types.FileChangeType.Created)]))
        for _ in range(100):
            answer = await hover(client, fresh, line, column)
            if answer is not None:
                break
            await asyncio.sleep(0.1)
        assert answer is not None and "brand_new_helper" in answer.contents.value


async def test_a_folder_deleted_or_moved_as_one_event_takes_its_files_along(tmp_path, teacher):
    """Editors report a folder deleted or moved as one event for the folder (VS Code does): the
    deleted folder's symbols go, the moved one's are answered at their new place."""
    root = lab_copy(tmp_path, teacher.url, distill=False)
    for folder in ("gone", "old"):
        (root / folder / "deep").mkdir(parents=True)
        (root / folder / "deep" / f"{folder}_mod.py").write_text(
            f"def {folder}_helper(count):\n    return [1] * count\n", encoding="utf-8")
    async with lsp(root, capabilities=WATCHING) as client:
        await wait_for(client, lambda s: s["indexed"])
        gone, old = root / "gone" / "deep" / "gone_mod.py", root / "old" / "deep" / "old_mod.py"
        assert await hover(client, gone, 0, 6) is not None and await hover(client, old, 0, 6) is not None
        shutil.rmtree(root / "gone")
        (root / "old").rename(root / "new")
        moved = root / "new" / "deep" / "old_mod.py"
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
            types.FileEvent(uri=(root / "gone").as_uri(), type=types.FileChangeType.Deleted),
            types.FileEvent(uri=(root / "old").as_uri(), type=types.FileChangeType.Deleted),
            types.FileEvent(uri=(root / "new").as_uri(), type=types.FileChangeType.Created)]))
        for _ in range(100):  # until it is answered from its new place (a name not indexed in the
            answer = await hover(client, moved, 0, 6)  # file yet is looked up elsewhere: the old one)
            if answer is not None and "new/deep/old_mod.py" in answer.contents.value:
                break
            await asyncio.sleep(0.1)
        assert answer is not None and "old_helper" in answer.contents.value
        for path in (gone, old):  # the files are gone from disk: their lenses went with them
            lenses = await client.text_document_code_lens_async(types.CodeLensParams(
                text_document=types.TextDocumentIdentifier(uri=path.as_uri())))
            assert not lenses, path
    from trm_lsp.store import Store

    store = Store.for_workspace(root)
    paths = {row[0] for row in store.db.execute("SELECT path FROM files")}
    store.close()
    assert "new/deep/old_mod.py" in paths and not {"gone/deep/gone_mod.py", "old/deep/old_mod.py"} & paths


async def test_an_editor_that_cannot_watch_is_not_asked(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    registered: list = []
    async with lsp(root, handlers={types.CLIENT_REGISTER_CAPABILITY: lambda params: registered.append(params)}) as client:
        await wait_for(client, lambda s: s["indexed"])
        assert registered == []


async def test_an_editor_that_opens_no_folder_is_told_why_hovers_stay_empty(tmp_path):
    async with lsp(None, cwd=tmp_path) as client:
        for _ in range(100):
            said = [m.message for m in client.messages if "no workspace folder" in m.message]
            if said:
                break
            await asyncio.sleep(0.1)
        assert said and "open a folder" in said[0]
