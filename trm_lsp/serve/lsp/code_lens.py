"""Code lens: "Explain this function" / "Explain this class" above each one (the first of a
line), resolved lazily into the `trm-lsp.explain` command (commands.py) with the symbol's file,
line and name."""

from __future__ import annotations

from lsprotocol import types

from trm_lsp.serve import lookup
from trm_lsp.serve.lsp.server import TrmLanguageServer
from trm_lsp.store import symbols


def register(server: TrmLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=True))
    def code_lens(ls: TrmLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is None or not daemon.settings.serve.code_lens:
            return []
        with ls.store_guard(daemon):
            found = symbols.in_file(daemon.store, rel)
        lenses, lines = [], set()
        for symbol in sorted(found, key=lambda sym: (sym.sl, sym.sc)):
            what = lookup.LENS_KINDS.get(symbol.kind)
            # One lens a line, the first symbol's: a minified file's 9,000 functions on line 0 made
            # 9,000 lenses that no one can tell apart, and 9,000 resolve requests from the editor.
            if what is None or symbol.sl in lines:
                continue
            lines.add(symbol.sl)
            position = types.Position(line=symbol.sl, character=symbol.sc)
            lenses.append(types.CodeLens(range=types.Range(start=position, end=position), data={
                "uri": params.text_document.uri, "line": symbol.start_line, "qualname": symbol.qualname, "what": what}))
        return lenses

    @server.feature(types.CODE_LENS_RESOLVE)
    def code_lens_resolve(ls: TrmLanguageServer, lens: types.CodeLens) -> types.CodeLens:
        data = lens.data if isinstance(lens.data, dict) else {}
        lens.command = types.Command(title=f"Explain this {data.get('what', 'function')}", command="trm-lsp.explain",
                                     arguments=[{"uri": data.get("uri"), "qualname": data.get("qualname"),
                                                 "line": data.get("line")}])
        return lens
