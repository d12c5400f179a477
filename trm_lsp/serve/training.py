"""Training the student in a child process (`trm-lsp train --progress-json`), at low priority so
the editor and the daemon keep the CPU, its progress read as data and shown as it goes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import asdict
from pathlib import Path

from trm_lsp.atomic import atomic_write
from trm_lsp.interpreter import protect_children, python_argv
from trm_lsp.serve.progress import Task
from trm_lsp.store import Store, symbols
from trm_lsp.store.samples import Samples
from trm_lsp.student.code_input import with_doc
from trm_lsp.student.data import Record


def workspace_records(store: Store) -> list[Record]:
    """The teacher's answers as the student learns from them: those about the workspace's code as
    it is now (`Samples.current`), each sample's code with its symbol's doc comment on top where
    the text lacks it (`code_input.with_doc`), as hover asks."""
    docs = symbols.docs(store)
    return [Record(symbol=s.symbol, kind=s.kind, language=s.language, path=s.path, id=s.id,
                   input=with_doc(s.input, docs.get(s.sha256, ""), s.language), output=s.output)
            for s in Samples(store).current()]


def write_training_file(records: list[Record], target: Path) -> None:
    """`records` as JSONL for `trm-lsp train`, atomically."""
    with atomic_write(target) as out:
        for record in records:
            out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


#: How much lower than the daemon's the training process's priority is (`trm-lsp train --nice`).
TRAINING_NICE = 10


class TrainingRun:
    """One background training run at a time; `kill` stops it from any path (cancel, stop)."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None

    async def run(self, data: Path, out: Path, minutes: float, task: Task) -> str | None:
        """Train on `data` into `out`; None when it succeeded, else why it failed (the child's
        last words)."""
        # Training yields the CPU to the editor and the daemon: it lowers its own priority (`--nice`).
        cmd = python_argv("trm_lsp", "train", "--data_path", str(data), "--out", str(out),
                          "--max_minutes", str(minutes), "--progress-json", "--nice", str(TRAINING_NICE))
        self.process = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env=protect_children(dict(os.environ)))
        tail: list[str] = []
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").strip()
            tail = (tail + [line])[-5:]
            step = progress_record(line)
            if step is not None:
                task.report(f"step {step['step']}/{step['total']}, loss {step['loss']:.3f}",
                            int(100 * step["step"] / max(step["total"], 1)))
        code = await self.process.wait()
        self.process = None
        return None if code == 0 else next((t for t in reversed(tail) if t), f"exit status {code}")

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            try:
                self.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass


def progress_record(line: str) -> dict | None:
    """A `train --progress-json` line, or None for any other line (warnings, the summary)."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    ok = isinstance(record, dict) and all(isinstance(record.get(k), (int, float)) for k in ("step", "total", "loss"))
    return record if ok else None

