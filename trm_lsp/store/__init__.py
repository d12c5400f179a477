"""The per-workspace SQLite store: `<workspace>/.trm-lsp/index.sqlite3`."""

from trm_lsp.store.db import Store, StoreError, state_dir

__all__ = ["Store", "StoreError", "state_dir"]
