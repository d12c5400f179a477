"""Hover: the explanation of the symbol under the cursor, within the student's wait, from the
teacher's cached answer, the student, or the structure alone (serve/answers.py decides)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from lsprotocol import types

from trm_lsp.serve import lookup
from trm_lsp.serve.lsp.server import TrmLanguageServer
from trm_lsp.serve.render import hover_markdown


def register(server: TrmLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TrmLanguageServer, params: types.HoverParams) -> types.Hover | None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is None:
            return None
        await daemon.settle_buffer(rel)  # typed in a moment ago: the index must hold what is shown
        lines = await _lines(ls, params.text_document.uri)
        with ls.store_guard(daemon):
            symbol = lookup.symbol_at_position(daemon.store, rel, params.position.line, params.position.character,
                                               lines)
            if symbol is None:
                return None
            answer = await daemon.engine.answer(symbol, daemon.settings.serve.student_wait_ms / 1000)
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=hover_markdown(answer, answer.language)))


#: A file on disk up to this size is read on the loop: a thread hop cost every such hover
#: 0.2 ms at the median (bench/daemon_latency.py); larger ones are read off the loop.
READ_ON_LOOP_BYTES = 1 << 20


async def _lines(ls: TrmLanguageServer, uri: str) -> list[str]:
    """The lines of an open buffer, else of the file on disk, and only when it is a regular file
    (a FIFO or a device under the workspace would block the read forever)."""
    document = ls.workspace.text_documents.get(uri)
    if document is not None:
        return document.lines
    path = lookup.uri_to_path(uri)
    if path is None:
        return []
    try:
        small = path.stat().st_size <= READ_ON_LOOP_BYTES
    except OSError:
        return []
    return _regular_file_lines(path) if small else await asyncio.to_thread(_regular_file_lines, path)


def _regular_file_lines(path: Path, limit: int = 8 * 1024 * 1024) -> list[str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even on a FIFO
    except OSError:
        return []
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # before fdopen, which refuses a directory
        os.close(fd)
        return []
    with os.fdopen(fd, "rb") as fh:
        return fh.read(limit).decode("utf-8", "replace").splitlines(keepends=True)
