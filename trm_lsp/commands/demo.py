"""`trm-lsp demo`: the whole pipeline on the bundled sample workspace, in a few minutes.

Index -> teacher answers (the configured teacher if it answers, else the recorded ones in
`data/logic_lab.distilled.jsonl`) -> train the student -> a table of answers -> how to connect
an editor. The symbols of one file are left to the student, so the table shows both sources.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from trm_lsp.commands.common import load_settings, stderr_console
from trm_lsp.textutil import summary

#: Left to the student: the teacher's recorded answers for this file are not imported.
STUDENT_FILE = "queue.go"


def _default_workspace() -> Path:
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / "data" / "logic_lab").is_dir():
            return base / "data" / "logic_lab"
    return Path("data/logic_lab")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", type=Path, default=None, help="default: data/logic_lab of this clone")
    parser.add_argument("--recorded", type=Path, default=None,
                        help="recorded teacher answers (default: data/logic_lab.distilled.jsonl)")
    parser.add_argument("--teacher-minutes", type=float, default=2.0,
                        help="time the live teacher gets before the recorded answers fill in (default 2)")
    parser.add_argument("--train-minutes", type=float, default=1.5, help="student training budget (default 1.5)")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.cli import UsageError
    from trm_lsp.student.blas import ensure_fast_blas

    root = (args.workspace or _default_workspace()).resolve()
    recorded = (args.recorded or root.with_name(root.name + ".distilled.jsonl")).resolve()
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (run `trm-lsp demo` from a clone, or give --workspace)")
    ensure_fast_blas()
    return asyncio.run(_demo(root, recorded, args))


async def _demo(root: Path, recorded: Path, args) -> int:
    from rich.table import Table

    from trm_lsp.commands.index import index_with_bar
    from trm_lsp.store import Store

    console = stderr_console()
    if not console.is_terminal:  # a log: wide enough for the table rather than 80 columns
        console.width = max(console.width, 150)
    settings = load_settings(root)
    started = time.perf_counter()
    console.print(f"[bold]trm-lsp demo[/] on {root}")
    store = Store.for_workspace(root)
    try:
        report = index_with_bar(root, store, settings)
        console.print(f"[bold]1. indexed[/] {sum(report.files_by_language.values())} files, "
                      f"{sum(report.symbols_by_kind.values())} symbols, {len(report.skipped)} skipped "
                      f"({report.seconds:.1f} s)")
        live = await _live_teacher(store, settings, args.teacher_minutes, console)
        imported = _import_recorded(store, recorded, console)
        console.print(f"[bold]2. teacher answers[/] {live} from the live teacher, {imported} recorded")
        student_dir = store.path.parent / "student"
        trained = _train(store, student_dir, args.train_minutes, console)
        console.print(f"[bold]3. student[/] {trained}")
        table = Table(title="Answers (hover shows the same)", show_lines=True)
        table.add_column("symbol", style="bold", max_width=30)
        table.add_column("source", max_width=24)
        table.add_column("explanation", min_width=40, ratio=1)
        for answer in await _answers(store, student_dir):
            # the age on a line of its own: the narrow column would break "8 d ago" after its number
            table.add_row(f"{answer.path}:{answer.line} {answer.symbol}", answer.provenance(age_sep="\n"),
                          summary(answer.text, 220))
        console.print(table)
    finally:
        store.close()
    console.print(f"done in {time.perf_counter() - started:.0f} s.\n")
    console.print(_CONNECT.format(root=root, cmd=command_name()), markup=False, highlight=False)
    return 0


async def _live_teacher(store, settings, minutes: float, console) -> int:
    from trm_lsp.distill.teacher import TeacherUnavailable, make_teacher
    from trm_lsp.distill.worker import Distiller

    teacher = make_teacher(settings.teacher)
    try:
        try:
            await asyncio.wait_for(teacher.check(), 10)
        except (TeacherUnavailable, asyncio.TimeoutError) as exc:
            console.print(f"teacher: {str(exc) or 'no answer within 10 s'} -- using the recorded answers instead",
                          markup=False)
            return 0
        from trm_lsp.commands.distill import _progress

        with _progress(console) as on_event:
            distiller = Distiller(store, teacher, settings.teacher, on_event)
            distiller.plan()
            try:
                stats = await asyncio.wait_for(distiller.run(until_idle=True, stop_when_down=True), minutes * 60)
            except asyncio.TimeoutError:
                console.print(f"teacher: {minutes:g} minutes are up; the recorded answers fill in the rest",
                              markup=False)
                return distiller.stats.answered
        return stats.answered
    finally:
        await teacher.close()


def _import_recorded(store, recorded: Path, console) -> int:
    from trm_lsp.distill.exchange import import_samples

    if not recorded.is_file():
        console.print(f"no recorded answers at {recorded}", markup=False)
        return 0
    report = import_samples(store, recorded, accept=lambda record: record["path"] != STUDENT_FILE)
    for line in report.rejected[:5]:
        console.print(f"  skipped {line}", markup=False)
    return report.imported + report.duplicates


def _train(store, out: Path, minutes: float, console) -> str:
    from trm_lsp.commands.train import training_progress
    from trm_lsp.student.checkpoint import shipped_base
    from trm_lsp.serve.training import workspace_records
    from trm_lsp.student.train import TrainConfig, train_student

    records = workspace_records(store)
    if len(records) < 2:
        return f"not trained: {len(records)} teacher answers"
    base = shipped_base()  # fine-tune the pretrained base; from scratch only in a build without one
    config = TrainConfig(epochs=40, batch_size=16, vocab_size=2000)
    if base:
        config = config.from_base()
    with training_progress(console) as on_progress:
        result = train_student(records, {}, config, out, on_progress, max_seconds=minutes * 60, base=base)
    start = "the pretrained base" if base else "scratch"
    return (f"fine-tuned from {start} on {len(records)} answers in {result.seconds:.0f} s ({result.steps} steps, "
            f"BLAS {result.meta['blas']})")


async def _answers(store, student_dir: Path):
    """A few symbols from each file: the teacher's answers, and the student's for STUDENT_FILE."""
    from trm_lsp.serve.answers import AnswerEngine, StudentSlot
    from trm_lsp.store import symbols

    slot = StudentSlot(student_dir)
    slot.load(here=True)  # this process exits normally: MLX must be read on the main thread
    engine = AnswerEngine(store, slot)
    found = symbols.select(store, "WHERE s.kind IN ('function', 'method', 'class', 'struct', 'interface') "
                                  "ORDER BY f.path, s.start_line")
    picked, per_file = [], {}
    for symbol in found:
        limit = 3 if symbol.path == STUDENT_FILE else 1
        if per_file.get(symbol.path, 0) < limit:
            per_file[symbol.path] = per_file.get(symbol.path, 0) + 1
            picked.append(symbol)
    try:
        return [await engine.answer(symbol, 30.0) for symbol in picked[:16]]
    finally:
        slot.close()


_CONNECT = """Connect an editor (each starts `trm-lsp serve` itself; see editors/ and the README):
  VS Code : make vsix && code --install-extension editors/vscode/trm-lsp.vsix
  Neovim  : require("trm_lsp").setup()   -- editors/neovim/lua/trm_lsp.lua on your runtimepath
  Helix   : editors/helix/languages.toml into ~/.config/helix/languages.toml
  Emacs   : (load "editors/emacs/trm-lsp.el")
  MCP     : while an editor runs the daemon, its URL is in {root}/.trm-lsp/daemon.json;
            or let the client launch `{cmd} mcp {root}` (editors/mcp/)
Try it now:  {cmd} explain {root} factorial.py::factorial_iterative"""


def command_name() -> str:
    """`trm-lsp` as this shell can run it: `make demo` installs it into .venv, whose bin is not on
    PATH, and "Try it now: trm-lsp explain ..." said "command not found"."""
    import os
    import shutil
    import sys

    if shutil.which("trm-lsp"):
        return "trm-lsp"
    script = Path(sys.executable).parent / "trm-lsp"
    if not script.exists():
        return f"{sys.executable} -m trm_lsp"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else str(script)
