"""The language server (pygls 2), one module per feature, each answered from the `Daemon` of the
workspace folder the document lives in:

- `server`: routing a document to its folder's daemon, settings, the reporter, `build_server`;
- `lifecycle`: initialize, folders, settings changes, shutdown and exit;
- `documents`: open, change, save, close, watched files;
- `hover`, `code_lens`, `commands` (`trm-lsp.explain` and the others);
- `progress`: `$/progress` for indexing, distilling and training.
"""

from trm_lsp.serve.lsp.server import CLIENT_KEYS, TrmLanguageServer, build_server, stop_all

__all__ = ["CLIENT_KEYS", "TrmLanguageServer", "build_server", "stop_all"]
