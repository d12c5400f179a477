"""The `trm-lsp.*` commands (workspace/executeCommand): explain a symbol (what the code lens
runs), status, distill now, train now."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from trm_lsp.serve import lookup
from trm_lsp.serve.answers import Answer
from trm_lsp.serve.daemon import Daemon
from trm_lsp.serve.lsp.server import TrmLanguageServer
from trm_lsp.serve.render import explanation_document

log = logging.getLogger(__name__)

#: How long the explanation page may take to open before it is shown as a message instead.
SHOW_SECONDS = 5.0


@attrs.define
class ExplainArgs:
    """`trm-lsp.explain`'s argument, as the code lens sends it: the file and the symbol's
    qualified name or 1-based line (the name is tried first). pygls converts the JSON object into
    this, and answers a wrongly typed one with InvalidParams."""

    uri: str
    qualname: str | None = None
    line: int | None = None


def register(server: TrmLanguageServer) -> None:
    @server.command("trm-lsp.explain")
    async def explain(ls: TrmLanguageServer, args: ExplainArgs) -> dict:
        daemon, rel = ls.daemon_for(args.uri)
        if daemon is None:
            raise JsonRpcInvalidParams("trm-lsp.explain needs {uri, line} or {uri, qualname} of a file in the workspace")
        try:
            with ls.store_guard(daemon):
                answer = await daemon.explain(lookup.Target(rel, args.qualname or None, args.line))
        except lookup.NotFound as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        await _show(ls, daemon, answer)
        return answer.as_dict()

    @server.command("trm-lsp.status")
    def status(ls: TrmLanguageServer, *args: Any) -> dict:
        folders = [daemon.status() for daemon in ls.daemons.values()]
        unserved = [{"root": str(root), "problem": problem} for root, problem in ls.unserved.items()]
        return {**(folders[0] if folders else {}), "folders": folders, "unserved": unserved}

    @server.command("trm-lsp.distill")
    async def distill(ls: TrmLanguageServer, *args: Any) -> dict:
        for daemon in ls.daemons.values():
            await daemon.resume_distilling()
        return status(ls)

    @server.command("trm-lsp.train")
    async def train(ls: TrmLanguageServer, *args: Any) -> dict:
        messages = [await daemon.maybe_train(force=True) for daemon in ls.daemons.values()]
        return {"result": messages}


_UNSAFE = re.compile(r"[^\w.-]+")


async def _show(ls: TrmLanguageServer, daemon: Daemon, answer: Answer) -> None:
    """A markdown page beside the code where the client can show documents, else a message."""
    window = ls.client_capabilities.window
    if window and window.show_document and window.show_document.support:
        folder = daemon.state / "explanations"
        folder.mkdir(exist_ok=True)
        page = folder / f"{_UNSAFE.sub('_', answer.symbol)[:80]}.md"
        page.write_text(explanation_document(answer, answer.language), encoding="utf-8")
        try:  # a client whose reply never comes (or cannot be read) must not hold the command's
            await asyncio.wait_for(ls.window_show_document_async(
                types.ShowDocumentParams(uri=page.as_uri(), take_focus=False)), SHOW_SECONDS)
            return
        except Exception as exc:  # shown as a message below
            log.debug("showDocument failed: %s", exc or type(exc).__name__)
    ls.window_show_message(types.ShowMessageParams(
        type=types.MessageType.Info, message=f"{answer.symbol}: {answer.text.strip()} ({answer.provenance()})"))
