"""`trm-lsp index DIR [--json [--text]]`: bring the index up to date and report on it."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path, PurePosixPath

from trm_lsp.commands.common import load_settings, show_progress, stderr_console, workspace_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="the workspace folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object per symbol on stdout")
    parser.add_argument("--text", action="store_true", help="with --json: add each item's text")
    parser.add_argument("--include", action="append", default=None, metavar="GLOB",
                        help="index only files matching GLOB (gitignore syntax; repeatable)")
    parser.add_argument("--exclude", action="append", default=None, metavar="GLOB",
                        help="leave out files matching GLOB (gitignore syntax; repeatable)")
    parser.add_argument("--max-file-size", type=int, default=None, metavar="BYTES",
                        help="skip code files larger than this (default 1 MiB)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.cli import UsageError
    from trm_lsp.indexer import index_workspace
    from trm_lsp.store import Store

    if args.text and not args.json:
        raise UsageError("--text goes with --json")
    root = workspace_dir(args.dir)
    overrides: dict = {"index": {}}
    if args.include:
        overrides["index"]["include"] = args.include
    if args.exclude:
        overrides["index"]["exclude"] = args.exclude
    if args.max_file_size is not None:
        overrides["index"]["max_file_bytes"] = args.max_file_size
    if args.workers is not None:
        overrides["index"]["workers"] = args.workers
    settings = load_settings(root, overrides)
    store = Store.for_workspace(root)
    try:
        if show_progress() and not args.quiet:
            report = index_with_bar(root, store, settings)
        else:
            report = index_workspace(root, store, settings)
        if args.json:
            write_rows(root, store, sys.stdout, with_text=args.text)
        if not args.quiet:
            print_summary(report)
    finally:
        store.close()
    return 0


def index_with_bar(root: Path, store, settings):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trm_lsp.indexer import index_workspace

    with Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=stderr_console(), transient=True) as bar:
        task = bar.add_task("index", total=None)

        def progress(done: int, total: int, rel: str) -> None:
            bar.update(task, completed=done, total=total)

        return index_workspace(root, store, settings, progress)


def write_rows(root: Path, store, out, with_text: bool = False) -> None:
    """The `index --json` rows: the DESIGN.md contract, plus signature/doc/range extras."""
    from trm_lsp.store import symbols

    current_path, data = None, b""
    for s in symbols.each(store, "ORDER BY f.path, s.start_line, s.id"):
        obj = {
            "path": s.path, "language": s.language, "kind": s.kind, "name": s.name, "qualname": s.qualname,
            "start_line": s.start_line, "end_line": s.end_line, "sha256": s.sha256, "parent": s.parent,
            "signature": s.signature, "doc": s.doc,
            "range": {"start": {"line": s.sl, "character": s.sc}, "end": {"line": s.el, "character": s.ec}},
        }
        if with_text:
            if s.text is not None:
                obj["text"] = s.text
            else:
                if s.path != current_path:
                    current_path = s.path
                    try:
                        data = (root / current_path).read_bytes()
                    except OSError:
                        data = b""
                obj["text"] = data[s.start_byte : s.end_byte].decode("utf-8", "replace")
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def print_summary(report) -> None:
    console = stderr_console()
    langs = ", ".join(f"{k} {v}" for k, v in report.files_by_language.most_common()) or "none"
    kinds = ", ".join(f"{k} {v}" for k, v in report.symbols_by_kind.items()) or "none"
    console.print(f"[bold]files[/] {sum(report.files_by_language.values())}: {langs}")
    console.print(f"[bold]symbols[/] {sum(report.symbols_by_kind.values())}: {kinds}")
    console.print(f"parsed {report.parsed}, unchanged {report.unchanged}, removed {report.removed}")
    if report.skipped:
        reasons = ", ".join(f"{k} {v}" for k, v in report.skipped_by_reason.most_common())
        console.print(f"[bold]skipped[/] {len(report.skipped)}: {reasons}")
        for rel, reason in sorted(report.skipped.items()):
            if reason not in ("hidden", "ignored", "unsupported type"):
                console.print(f"  skipped {rel}: {reason}", markup=False)
        types = unsupported_types(report.skipped)
        if types:
            console.print(f"  unsupported types: {types}", markup=False)
    for warning in report.warnings:
        console.print(f"[bold yellow]warning[/] {warning}")
    for rel, note in sorted(report.notes.items()):
        console.print(f"  note {rel}: {note}", markup=False)
    console.print(f"[bold]seconds[/] {report.seconds:.2f}")


def unsupported_types(skipped: dict[str, str], shown: int = 8) -> str:
    """The file types skipped as unsupported, most frequent first (".lock 12, .svg 5, ...
    and 3 more"): a repository has too many such files to name, but which kinds were left out
    tells a user whether the one they expected to be read is among them."""
    kinds = Counter(PurePosixPath(rel).suffix.lower() or PurePosixPath(rel).name
                    for rel, reason in skipped.items() if reason == "unsupported type")
    listed = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common(shown))
    more = len(kinds) - shown
    return listed + (f" and {more} more" if more > 0 else "")
