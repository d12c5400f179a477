"""Document sync: an opened file's symbols are explained ahead of time, an edit re-extracts the
buffer (debounced by the daemon), a save, a close or a watched-file event re-indexes from disk."""

from __future__ import annotations

from lsprotocol import types

from trm_lsp.serve.daemon import Daemon
from trm_lsp.serve.lsp.server import TrmLanguageServer
from trm_lsp.store import symbols


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
            await daemon.files_changed([rel])

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: TrmLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:  # unsaved edits are gone with the buffer: back to the file on disk
            await daemon.files_changed([rel])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched_files(ls: TrmLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        by_daemon: dict[Daemon, list[str]] = {}
        for change in params.changes:
            daemon, rel = ls.daemon_for(change.uri)
            if daemon is not None and not rel.startswith(".trm-lsp/"):
                by_daemon.setdefault(daemon, []).append(rel)
        for daemon, rels in by_daemon.items():
            await daemon.files_changed(rels)
