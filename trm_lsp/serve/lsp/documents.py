"""Document sync: an opened file's symbols are explained ahead of time, an edit re-extracts the
buffer (debounced by the daemon), a save, a close or a watched-file event re-indexes from disk.
The files to watch are registered with the client (`watch_files`), so a file created, changed or
deleted outside the editor (a checkout, a generator) is seen in every editor that can watch."""

from __future__ import annotations

import logging

from lsprotocol import types

from trm_lsp.extract.languages import BY_EXTENSION
from trm_lsp.serve.daemon import Daemon
from trm_lsp.serve.lsp.server import TrmLanguageServer
from trm_lsp.store import symbols

log = logging.getLogger(__name__)

#: What the server asks the client to watch: every file kind the index reads (not `**/*`, which
#: would report the index's own writes too). One pattern per extension: every client's glob
#: matcher has those.
WATCHED = sorted(f"**/*{ext}" for ext in BY_EXTENSION)


async def watch_files(ls: TrmLanguageServer) -> bool:
    """Ask the client to send `workspace/didChangeWatchedFiles` for `WATCHED`, when it says it
    can be asked (dynamic registration); False when it cannot, or refused."""
    workspace = ls.client_capabilities.workspace if ls.client_capabilities else None
    caps = workspace.did_change_watched_files if workspace else None
    if not (caps and caps.dynamic_registration):
        log.info("the editor cannot watch files for trm-lsp: files changed outside it are seen on the next start")
        return False
    # Editors report a folder deleted, moved or created as one event for the folder, which no
    # file pattern matches: every path's creation and deletion is watched too.
    folders = types.FileSystemWatcher(glob_pattern="**/*", kind=types.WatchKind.Create | types.WatchKind.Delete)
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[*(types.FileSystemWatcher(glob_pattern=pattern) for pattern in WATCHED), folders])
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[types.Registration(
            id="trm-lsp-watched-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options)]))
    except Exception as exc:  # the client's error reply: serving goes on without watching
        log.warning("the editor refused to watch files for trm-lsp: %s", exc)
        return False
    return True


def register(server: TrmLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TrmLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:
            daemon.engine.warm(symbols.in_file(daemon.store, rel))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TrmLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:
            daemon.buffer_changed(rel, ls.workspace.get_text_document(params.text_document.uri).source)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: TrmLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:
            daemon.buffer_closed(rel)  # the file on disk holds what the buffer did
            await daemon.files_changed([rel])

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: TrmLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:  # unsaved edits are gone with the buffer: back to the file on disk
            daemon.buffer_closed(rel)
            await daemon.files_changed([rel])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched_files(ls: TrmLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        by_daemon: dict[Daemon, list[str]] = {}
        for change in params.changes:
            daemon, rel = ls.daemon_for(change.uri)
            # Hidden paths are never indexed: its own store's writes, git's objects are not news.
            if daemon is not None and not any(part.startswith(".") for part in rel.split("/")):
                by_daemon.setdefault(daemon, []).append(rel)
        for daemon, rels in by_daemon.items():
            await daemon.files_changed(rels)
