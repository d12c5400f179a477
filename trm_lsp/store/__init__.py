"""The per-workspace SQLite store: `<workspace>/.trm-lsp/index.sqlite3` (`state_dir`: in the user's
state directory for a workspace that cannot be written)."""

from trm_lsp.store.db import Store
from trm_lsp.store.location import StoreError, state_dir

__all__ = ["Store", "StoreError", "state_dir"]
