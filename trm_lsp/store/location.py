"""Where a workspace's state lives: `<workspace>/.trm-lsp/` when it can be written there, else
the user's state directory. Found before the store is opened, so a read-only checkout is said
once, in words, instead of failing at SQLite's first write."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from trm_lsp.config import STATE_DIR

log = logging.getLogger(__name__)

DB_NAME = "index.sqlite3"
#: In a state directory outside its workspace: the workspace's path, so a person (and
#: `stale_outside_states`) can tell whose index it is.
WORKSPACE_NOTE = "workspace.txt"


class StoreError(RuntimeError):
    """The store cannot be opened or is from an incompatible version."""


def state_dir(workspace: Path) -> Path:
    """Where a workspace's index, teacher answers and student live: `<workspace>/.trm-lsp/`,
    created with a `.gitignore` of `*` so it never lands in commits. A workspace that cannot be
    written there (a read-only checkout, a system's own sources, an index another user made) keeps
    them in the user's state directory instead (`outside_state_dir`), so it can still be indexed
    and explained; `locate_state` also says why."""
    return locate_state(workspace)[0]


def locate_state(workspace: Path) -> tuple[Path, str]:
    """(the state directory, why it is outside the workspace or ""). A workspace that is not a
    folder is refused, never created (an editor's saved folder on a drive not mounted today)."""
    if not Path(workspace).is_dir():
        what = "is not a folder" if Path(workspace).exists() else "does not exist"
        raise StoreError(f"{workspace} {what}")
    inside = Path(workspace) / STATE_DIR
    try:
        _make_writable_state(inside)
        return inside, ""
    except OSError as exc:
        why = f"cannot write {inside}: {exc.strerror or exc}"
    outside = outside_state_dir(workspace)
    try:
        _make_writable_state(outside)
        (outside / WORKSPACE_NOTE).write_text(f"{Path(workspace).resolve()}\n", encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"{why}; nor {outside}: {exc.strerror or exc}. The index lives in the workspace "
                         f"or, for one that cannot be written, in the user's state directory") from None
    if (inside / DB_NAME).is_file() and not (outside / DB_NAME).exists():
        try:  # an index made while the workspace was writable: its teacher answers and student go on
            for source in inside.rglob("*"):
                if source.is_file():  # the contents, not the read-only modes
                    target = outside / source.relative_to(inside)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
        except OSError as exc:
            log.warning("could not copy the index in %s to %s (%s): indexing again there", inside, outside, exc)
    for gone, folder, size in stale_outside_states(outside.parent):
        log.warning("the index of %s, which is no longer there, is still kept in %s (%.1f MB): delete that "
                    "folder if you are done with it", gone, folder, size / 1e6)
    return outside, why


def outside_state_dir(workspace: Path) -> Path:
    """The state of an unwritable workspace: `<user state dir>/trm-lsp/workspaces/<name>-<hash of its path>`
    (`$XDG_STATE_HOME` or ~/.local/state on Linux; platformdirs elsewhere)."""
    from hashlib import sha256

    from platformdirs import user_state_dir

    root = Path(workspace).resolve()
    key = sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return Path(user_state_dir("trm-lsp")) / "workspaces" / f"{root.name or 'root'}-{key}"


def stale_outside_states(parent: Path) -> list[tuple[str, Path, int]]:
    """(workspace, its state directory, bytes) for each state kept outside a workspace that no
    longer exists. Said, never deleted: a workspace on a drive not mounted today looks the same,
    and its teacher answers took hours to get."""
    out = []
    for folder in sorted(parent.iterdir()) if parent.is_dir() else []:
        try:
            workspace = (folder / WORKSPACE_NOTE).read_text(encoding="utf-8").strip()
            if not workspace or Path(workspace).exists():
                continue
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        except OSError:  # not ours, or written before the note was: nothing to say about it
            continue
        out.append((workspace, folder, size))
    return out


def _make_writable_state(path: Path) -> None:
    """Create `path` as a state directory, or raise OSError if it (or its index) cannot be written:
    a directory that exists may still refuse writes (a read-only mount), and so may an index file
    another user made, which SQLite would only find out at the first write."""
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    with tempfile.TemporaryFile(dir=path):
        pass
    index = path / DB_NAME
    if index.exists():
        with open(index, "r+b"):
            pass
