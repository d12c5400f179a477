"""`trm-lsp distill DIR`: ask the teacher about every symbol whose text has no answer yet."""

from __future__ import annotations

import argparse
import sys

from trm_lsp.commands.common import load_settings, show_progress, stderr_console, workspace_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="the workspace folder")
    parser.add_argument("--backend", choices=("ollama", "openai"), help="teacher backend (default: ollama)")
    parser.add_argument("--host", help="teacher URL (default: $OLLAMA_HOST or http://127.0.0.1:11434)")
    parser.add_argument("--model", help="teacher model (default: deepseek-r1:1.5b)")
    parser.add_argument("--limit", type=int, help="ask the teacher at most N questions this run (a retry is one)")
    parser.add_argument("--concurrency", type=int, help="teacher calls in flight (default: 1)")
    parser.add_argument("--timeout", type=float, help="seconds per teacher call (default: 300)")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.cli import UsageError

    root = workspace_dir(args.dir)
    teacher_overrides = {key: value for key, value in (
        ("backend", args.backend), ("host", args.host), ("model", args.model),
        ("concurrency", args.concurrency), ("timeout", args.timeout)) if value is not None}
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must not be negative")
    settings = load_settings(root, {"teacher": teacher_overrides})
    import asyncio

    return asyncio.run(_distill(root, settings, args.limit))


async def _distill(root, settings, limit) -> int:
    from trm_lsp.distill.teacher import TeacherUnavailable, make_teacher
    from trm_lsp.distill.worker import Distiller
    from trm_lsp.indexer import index_workspace
    from trm_lsp.store import Store

    console = stderr_console()
    store = Store.for_workspace(root)
    teacher = make_teacher(settings.teacher)
    distiller = None
    try:
        index_workspace(root, store, settings)
        with _progress(console) as on_event:
            distiller = Distiller(store, teacher, settings.teacher, on_event)
            try:
                await teacher.check()
            except TeacherUnavailable as exc:
                if distiller.shared is None:
                    print(f"trm-lsp: error: {exc}", file=sys.stderr)
                    return 1
                distiller.plan()  # the published answers may be all we need
                await distiller.import_shared()
                left = len(distiller.jobs.pending_shas())
                _summary(console, distiller.stats, teacher, distiller.shared)
                if left:
                    print(f"trm-lsp: error: {exc}; {left} symbols have no answer yet", file=sys.stderr)
                    return 1
                return 0
            distiller.plan()
            stats = await distiller.run(limit=limit, until_idle=True, stop_when_down=True)
        _summary(console, stats, teacher, distiller.shared)
        if stats.stopped:
            print(f"trm-lsp: error: stopped: {stats.stopped} ({teacher.host})", file=sys.stderr)
            return 1
        if stats.answered == 0 and stats.errors:  # given up on, or left to retry (a --limit run)
            reason, count = stats.errors.most_common(1)[0]
            later = "" if stats.failed.get(reason) else ", left to ask again on the next run"  # as "retries" said
            print(f"trm-lsp: error: the teacher answered none of {stats.asked} questions; "
                  f"{count} {'try' if count == 1 else 'tries'} got no usable answer ({reason}){later}", file=sys.stderr)
            return 1
        return 0
    finally:
        if distiller is not None:
            await distiller.close()
        await teacher.close()
        store.close()


class _progress:
    """A rich progress bar on a terminal; one line per answer elsewhere (CI logs)."""

    def __init__(self, console) -> None:
        self.console = console
        self.bar = None

    def __enter__(self):
        if show_progress():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("distilling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                TextColumn("{task.description}"), console=self.console, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=None)
        return self.on_event

    def on_event(self, event) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=event.done, total=event.total or None, description=event.symbol[:40])
        elif event.kind == "failed":
            self.console.print(f"gave up on {event.symbol}: {event.detail}", markup=False)
        elif event.kind == "teacher_down":
            self.console.print(f"the teacher stopped answering: {event.detail}", markup=False)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _summary(console, stats, teacher, shared=None) -> None:
    failed = sum(stats.failed.values())
    if shared is not None:
        state = shared.status()
        refused = ", ".join(f"{n} {why}" for why, n in state["refused"].items())
        console.print(f"shared answers {state['url']}: read {state['imported']}, missing {state['missing']}"
                      + (f", refused {refused}" if refused else "")
                      + (f", unreachable {state['unreachable']}" if state["unreachable"] else ""), markup=False)
    console.print(f"[bold]teacher[/] {teacher.name} at {teacher.host}")
    console.print(f"asked {stats.asked}, answered {stats.answered}, cached {stats.cached}, failed {failed}, "
                  f"retries {stats.retries}" + (f", cut {stats.cut} (longer than the caps)" if stats.cut else "")
                  + (f", {stats.repeats} stored cut where the teacher began to repeat itself" if stats.repeats else ""))
    for reason, count in stats.failed.most_common():
        console.print(f"  failed {count}: {reason}", markup=False)
    for reason, count in (stats.errors - stats.failed).most_common():  # each attempt that failed and was asked again
        console.print(f"  asked again {count}: {reason}", markup=False)
    console.print(f"[bold]seconds[/] {stats.seconds:.1f}, tokens/s {stats.tokens_per_second:.1f}")
