"""`trm-lsp publish DIR OUT`: write DIR's teacher answers under OUT for others to read through
`teacher.sharedAnswers` (a static HTTP server, a bucket or a shared folder serving OUT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from trm_lsp.commands.common import stderr_console, workspace_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="the workspace folder")
    parser.add_argument("out", help="the folder to publish into (created; published answers are kept); "
                                     "a file:// URL names a folder too")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.distill.publish import publish
    from trm_lsp.store import Store

    root = workspace_dir(args.dir)
    out = publish_folder(args.out)
    store = Store.for_workspace(root)
    try:
        report = publish(store, out)
    finally:
        store.close()
    stderr_console().print(f"published {report.written} new answers to {out} ({report.present} were there "
                           f"already; {report.sets} teacher/prompt set(s))", markup=False)
    return 0


def publish_folder(out: str) -> Path:
    """OUT as a local folder: a path, or the `file://` URL that `teacher.sharedAnswers` takes.
    An http(s):// or bucket URL is refused: publish writes a folder, and a server or a sync
    (`aws s3 sync`, `rsync`) carries it there."""
    from urllib.parse import unquote, urlsplit

    from trm_lsp.cli import UsageError

    if not out.strip():
        raise UsageError("publish needs OUT to name a folder, not an empty one")
    parts = urlsplit(out)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise UsageError(f"publish: {out} names no folder on this machine; give file:///path/to/folder")
        return Path(unquote(parts.path))
    if len(parts.scheme) > 1 and "://" in out:  # not a Windows drive letter
        raise UsageError(f"publish writes a folder, not to {parts.scheme}:// URLs: publish into a folder and "
                         f"serve or sync it there (OUT was {out})")
    return Path(out)
