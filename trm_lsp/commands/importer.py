"""`trm-lsp import DIR FILE`: load recorded teacher answers (sample format) into the store."""

from __future__ import annotations

import argparse
from pathlib import Path

from trm_lsp.commands.common import stderr_console, workspace_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="the workspace folder")
    parser.add_argument("file", type=Path, help="a JSONL file of samples")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.cli import UsageError
    from trm_lsp.distill.exchange import import_samples
    from trm_lsp.store import Store

    root = workspace_dir(args.dir)
    if not args.file.is_file():
        raise UsageError(f"{args.file}: {'a folder, not a file' if args.file.is_dir() else 'no such file'}")
    store = Store.for_workspace(root)
    try:
        report = import_samples(store, args.file)
    finally:
        store.close()
    console = stderr_console()
    console.print(f"imported {report.imported} samples, {report.duplicates} already present, "
                  f"{len(report.rejected)} rejected", markup=False)
    for line in report.rejected[:20]:
        console.print(f"  {line}", markup=False)
    if report.rejected and not report.imported and not report.duplicates:
        console.print(f"trm-lsp: error: no line of {args.file} is a sample{_encoding_hint(args.file)}", markup=False)
        return 1
    return 0


def _encoding_hint(path: Path) -> str:
    """Why every line failed, when it is the file's encoding (Windows tools write UTF-16)."""
    from trm_lsp.textutil import UTF16_BOMS

    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(UTF16_BOMS) or b"\x00" in head:  # a BOM, or ASCII's zero high bytes without one
        return ": it is UTF-16; save it as UTF-8"
    return ""
