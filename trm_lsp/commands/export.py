"""`trm-lsp export DIR [-o FILE]`: the samples as JSONL (default DIR/.trm-lsp/custom_logic.jsonl)."""

from __future__ import annotations

import argparse
from pathlib import Path

from trm_lsp.commands.common import stderr_console, workspace_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="the workspace folder")
    parser.add_argument("-o", "--output", type=Path, help="where to write (default: DIR/.trm-lsp/custom_logic.jsonl)")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.atomic import user_output
    from trm_lsp.cli import UsageError
    from trm_lsp.distill.exchange import export_samples
    from trm_lsp.store import Store

    root = workspace_dir(args.dir)
    if args.output is not None and not str(args.output).strip():
        raise UsageError("-o wants a file (or - for stdout), not an empty name")
    store = Store.for_workspace(root)
    target = args.output or store.path.parent / "custom_logic.jsonl"  # its state directory, found once
    try:
        with user_output(target) as out:
            count = export_samples(store, out)
    except IsADirectoryError as exc:
        raise UsageError(f"-o {args.output}: {exc}") from None
    finally:
        store.close()
    stderr_console().print(f"exported {count} samples to {'stdout' if str(target) == '-' else target}", markup=False)
    return 0
