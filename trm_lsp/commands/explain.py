"""`trm-lsp explain DIR TARGET [--json]`: the answer hover would give, on the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from trm_lsp.commands.common import load_settings, workspace_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workspace", metavar="DIR", help="the workspace")
    parser.add_argument("target", metavar="TARGET", help="path:line or path::Qualified.name (path relative to DIR)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the student (default 60)")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.cli import UsageError

    root = workspace_dir(args.workspace)
    settings = load_settings(root)
    rel, sep, rest = args.target.partition("::")
    if not sep:
        rel, sep, rest = args.target.rpartition(":")
        if not sep or not rest.isdigit():
            raise UsageError(f"TARGET must be path:line or path::Qualified.name, not {args.target!r}")
    from trm_lsp.student.blas import ensure_fast_blas

    ensure_fast_blas()
    return asyncio.run(_explain(root, settings, _relative(root, rel), rest, sep == "::", args))


def _relative(root, rel: str) -> str:
    """TARGET's path as workspace-relative: an absolute path inside the workspace is accepted."""
    from pathlib import Path

    from trm_lsp.cli import UsageError

    rel = rel.replace("\\", "/")
    if Path(rel).is_absolute():
        try:
            return Path(rel).resolve().relative_to(root).as_posix()
        except ValueError:
            raise UsageError(f"{rel} is outside the workspace {root}") from None
    return rel.removeprefix("./")


async def _explain(root, settings, rel: str, rest: str, by_name: bool, args) -> int:
    from trm_lsp.indexer import index_workspace
    from trm_lsp.serve.daemon import Daemon
    from trm_lsp.serve.lookup import NotFound, Target

    daemon = Daemon(root, settings)  # not started: no teacher, no background work, just the answer
    try:
        index_workspace(root, daemon.store, settings)
        daemon.indexed.set()
        daemon.student.load(here=True)  # this process exits normally: MLX must be read on the main thread
        target = Target(rel, qualname=rest) if by_name else Target(rel, line=int(rest))
        answer = await daemon.explain(target, args.wait)
        if answer.source != "teacher":
            print(f"trm-lsp: {_teacher_note(daemon.store, answer, root)}", file=sys.stderr)
        others = _others_named(daemon.store, answer) if by_name else _others_on_line(daemon.store, answer)
        if others:
            print(f"trm-lsp: {others}", file=sys.stderr)
    except NotFound as exc:
        print(f"trm-lsp: error: {exc}", file=sys.stderr)
        return 1
    finally:
        daemon.close()
    if args.json:
        print(json.dumps(answer.as_dict(), ensure_ascii=False))
    else:
        print(f"{answer.symbol} ({answer.kind}) {answer.path}:{answer.line}")
        print(answer.text.strip())
        print(f"-- {answer.provenance()}")
    return 0


def _teacher_note(store, answer, root) -> str:
    """Why the answer is not the teacher's, and how to get it: this command starts no teacher,
    so a symbol it has not explained yet stays so until `distill` (or an editor's daemon) asks."""
    from trm_lsp.store.jobs import Jobs
    from trm_lsp.textutil import summary

    from trm_lsp.serve.answers import not_asked, not_queued

    never = not_asked(answer.kind)
    if never:
        return never
    ask = f"`trm-lsp distill {root}` asks it"
    last = Jobs.last_try(store, answer.sha256)
    if last is None or not last[2]:
        row = store.db.execute("SELECT machine_made FROM files WHERE path = ?", (answer.path,)).fetchone()
        return not_queued(row[0] if row else None) or f"the teacher has not explained `{answer.symbol}` yet: {ask}"
    state, attempts, error = last
    tries = f"{attempts} {'try' if attempts == 1 else 'tries'}"
    if state == "failed":
        return f"the teacher gave up on `{answer.symbol}` after {tries} ({summary(error, 200)}): {ask} again"
    return f"the teacher has not explained `{answer.symbol}` yet ({tries} so far, the last: {summary(error, 200)}): {ask}"


def _others_named(store, answer) -> str:
    """A name may stand for several symbols of one file (a property's getter and setter, a Rust
    struct and its impl): say which one was explained and how to reach the others."""
    from trm_lsp.store import symbols

    same = symbols.select(store, "WHERE f.path = ? AND s.qualname = ? ORDER BY s.sl", (answer.path, answer.symbol))
    if len(same) < 2:
        return ""
    where = ", ".join(f"{sym.kind} at line {sym.start_line}" for sym in same)
    others = " or ".join(f"`{answer.path}:{sym.start_line}`" for sym in same if sym.start_line != answer.line)
    return f"`{answer.symbol}` names {len(same)} symbols in {answer.path} ({where}); this is the one at line " \
           f"{answer.line}: {others} explains another"


def _others_on_line(store, answer) -> str:
    """A line may start several symbols (the keys of a one-line JSON object): name the others."""
    from trm_lsp.store import symbols

    same = symbols.select(store, "WHERE f.path = ? AND s.start_line = ? AND s.qualname != ? ORDER BY s.qualname",
                          (answer.path, answer.line, answer.symbol))
    if not same:
        return ""
    names = ", ".join(f"`{answer.path}::{sym.qualname}`" for sym in same[:5]) + (" ..." if len(same) > 5 else "")
    return f"line {answer.line} of {answer.path} starts {len(same) + 1} symbols; this is `{answer.symbol}`: {names} " \
           f"explain{'s' if len(same) == 1 else ''} the other{'s' if len(same) > 1 else ''}"
