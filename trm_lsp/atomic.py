"""Files replaced whole or not at all: written beside their target under a name no other process
uses, then renamed over it. A reader (or a process killed mid-write) sees the old file or the
new one, never half of one; a failed write leaves no temporary file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(target: Path, mode: str = "w", permissions: int | None = None) -> Iterator[IO]:
    """Yields the open temporary file; `target` is replaced when the block ends without error.
    `permissions`: the new file's mode (temporary files are created private, 0o600)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        if permissions is not None:
            os.chmod(tmp, permissions)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
