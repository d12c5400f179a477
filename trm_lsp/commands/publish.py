"""`trm-lsp publish DIR OUT`: write DIR's teacher answers under OUT for others to read through
`teacher.sharedAnswers` (a static HTTP server, a bucket or a shared folder serving OUT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from trm_lsp.commands.common import stderr_console, workspace_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="the workspace folder")
    parser.add_argument("out", type=Path, help="the folder to publish into (created; published answers are kept)")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.distill.publish import publish
    from trm_lsp.store import Store

    root = workspace_dir(args.dir)
    store = Store.for_workspace(root)
    try:
        report = publish(store, args.out)
    finally:
        store.close()
    stderr_console().print(f"published {report.written} new answers to {args.out} ({report.present} were there "
                           f"already; {report.sets} teacher/prompt set(s))", markup=False)
    return 0
