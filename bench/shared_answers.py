"""Shared answers as a team meets them: a second workspace reads a published tree from Debian's
nginx instead of asking its teacher, and the store going away mid-run delays no hover.

Workspace A (2,400 generated functions) is distilled by the Ollama-speaking test server and
published; nginx serves the tree on loopback. Measured from a real LSP client on workspace B
(same code, `teacher.sharedAnswers` at nginx, a teacher answering in --teacher-delay s):
teacher calls until every answer is in (claim: zero) and how long the import took; hover p99
while it imports, and once quiet. Then workspace C, the same again, with nginx stopped once a
quarter is imported: hover p99 while the distiller meets the dead store and falls back to the
teacher (claim: within 20% of B's quiet p99), and the calls the teacher then gets.

    python bench/shared_answers.py [--files 300] [--hovers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import trm_lsp_cmd, write_report  # noqa: E402
from daemon_latency import command, hover_ms, pct  # noqa: E402


def write_code(root: Path, files: int) -> list[tuple[str, int, int, str]]:
    """`files` modules of 8 functions; (file, 0-based line, column inside the name, name) of each."""
    targets = []
    for m in range(files):
        lines = []
        for n in range(8):
            targets.append((f"pkg/mod{m}.py", len(lines), 6, f"f_{m}_{n}"))
            lines += [f"def f_{m}_{n}(values, limit):", f"    return [v * {m} for v in values if v < limit + {n}]", ""]
        (root / "pkg").mkdir(parents=True, exist_ok=True)
        (root / f"pkg/mod{m}.py").write_text("\n".join(lines) + "\n")
    return targets


def configure(root: Path, teacher: str, shared: str) -> None:
    (root / "trm-lsp.toml").write_text(
        f'[teacher]\nhost = "{teacher}"\nshared_answers = "{shared}"\nshared_timeout = 2\nbreaker_failures = 2\n'
        "probe_interval = 600\n[serve]\nretrain_after = 0\nmcp_port = 0\nstudent_wait_ms = 50\n")


def answered(root: Path, targets) -> list[tuple[Path, int, int]]:
    """The targets whose symbol has a teacher answer now: a hover on one reads the store only,
    so its time shows what the shared store's lookups cost it (not the student's writing)."""
    import sqlite3

    db = sqlite3.connect(f"file:{root / '.trm-lsp' / 'index.sqlite3'}?mode=ro", uri=True)
    names = {r[0] for r in db.execute("SELECT s.name FROM symbols s JOIN samples sm ON sm.sha256 = s.sha256")}
    db.close()
    return [(root / path, line, col) for path, line, col, name in targets if name in names]


async def hovers(client, targets, count: int) -> list[float]:
    return [await hover_ms(client, targets[n % len(targets)]) for n in range(count)]


async def daemon(root: Path):
    from lsprotocol import types
    from pytest_lsp import ClientServerConfig

    client = await ClientServerConfig(server_command=[*trm_lsp_cmd(), "serve"]).start()
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)]))
    return client


def imported(state: dict) -> int:
    return (state.get("shared_answers") or {}).get("imported", 0)


async def run(args) -> dict:
    from tests.fake_teacher import FakeTeacher
    from tests.nginx import Nginx

    work = Path(tempfile.mkdtemp(prefix="trm-lsp-shared-"))
    first = work / "a"
    targets = write_code(first, args.files)
    total = len(targets)
    with FakeTeacher() as teacher:
        subprocess.run([*trm_lsp_cmd(), "distill", str(first), "--host", teacher.url, "--concurrency", "8"],
                       check=True, capture_output=True)
    subprocess.run([*trm_lsp_cmd(), "publish", str(first), str(work / "pub")], check=True, capture_output=True)
    nginx = Nginx(work / "pub", work / "nginx")
    report: dict = {"functions": total}
    try:
        with FakeTeacher(delay=args.teacher_delay) as teacher:
            second = work / "b"
            shutil.copytree(first, second, ignore=shutil.ignore_patterns(".trm-lsp"))
            configure(second, teacher.url, nginx.url)
            client = await daemon(second)
            try:
                started = time.perf_counter()
                while imported(await command(client, "trm-lsp.status")) < 50:
                    await asyncio.sleep(0.02)
                during = await hovers(client, answered(second, targets), args.hovers // 4)
                while imported(state := await command(client, "trm-lsp.status")) < total:
                    await asyncio.sleep(0.1)
                report["import_seconds"] = round(time.perf_counter() - started, 1)
                quiet = await hovers(client, answered(second, targets), args.hovers)
                report["teacher_calls"] = teacher.calls
                report["refused"] = state["shared_answers"]["refused"]
            finally:
                await client.shutdown_session()
                await client.stop()
            report["hover_p99_ms"] = {"importing": round(pct(during, 99), 2), "quiet": round(pct(quiet, 99), 2)}
            report["hover_p50_ms_quiet"] = round(statistics.median(quiet), 2)

            third = work / "c"
            shutil.copytree(first, third, ignore=shutil.ignore_patterns(".trm-lsp"))
            configure(third, teacher.url, nginx.url)
            calls_before = teacher.calls
            client = await daemon(third)
            try:
                while imported(await command(client, "trm-lsp.status")) < total // 4:
                    await asyncio.sleep(0.02)
                nginx.stop()
                down = await hovers(client, answered(third, targets), args.hovers)
                state = await command(client, "trm-lsp.status")
            finally:
                await client.shutdown_session()
                await client.stop()
            report["store_stopped"] = {
                "imported_before": imported(state), "hover_p99_ms": round(pct(down, 99), 2),
                "p99_over_quiet": round(pct(down, 99) / pct(quiet, 99), 2),
                "teacher_calls_meanwhile": teacher.calls - calls_before,
                "unreachable": state["shared_answers"]["unreachable"], "store_state": state["shared_answers"]["state"]}
    finally:
        nginx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--hovers", type=int, default=1000)
    parser.add_argument("--teacher-delay", type=float, default=0.3)
    args = parser.parse_args()
    report = asyncio.run(run(args))
    write_report("shared_answers", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
