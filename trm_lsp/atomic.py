"""Files replaced whole or not at all: written beside their target under a name no other process
uses, then renamed over it. A reader (or a process killed mid-write) sees the old file or the
new one, never half of one; a failed write leaves no temporary file behind."""

from __future__ import annotations

import os
import stat
import sys
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


@contextmanager
def user_output(target: Path | str) -> Iterator[IO]:
    """A file a user named as a command's output: "-" is stdout; a link is written through to
    the file it names (the link stays); a FIFO or a device is written to as it is; a regular
    file is replaced atomically (`atomic_write`) keeping its permissions, and a new one gets those
    the user's umask gives new files. Raises IsADirectoryError for a folder."""
    if str(target) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(os.path.realpath(target))
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder")
    if target.exists() and not stat.S_ISREG(target.stat().st_mode):
        with open(target, "w", encoding="utf-8") as fh:
            yield fh
        return
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()  # a private file stays so
    with atomic_write(target, permissions=mode) as fh:
        yield fh


def _umask() -> int:
    mask = os.umask(0o022)  # read by setting it: put back at once
    os.umask(mask)
    return mask
