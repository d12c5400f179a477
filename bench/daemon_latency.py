"""Daemon speed and memory as an editor sees them: a real LSP client over stdio against
`trm-lsp serve` on a copy of the standard library (~1,800 files), with the corpus's real teacher
answers imported (their hashes match the stdlib's symbols) and a trained student.

Measured, each from the client (request to response):
  - hover on symbols with a stored teacher answer: p50, p99 over 1,000 requests (claims 5 / 25 ms);
  - hover backed by the student on symbols without one: p95 of the first hover (the student
    writes the answer) and of a second (cached, as after the daemon explained an opened file's
    symbols in the background) (claim 150 ms);
  - code lens on the code file closest to 3,000 lines: p95 over 200 requests (claim 50 ms);
  - the same again while distillation (a local Ollama-speaking server answering in
    --teacher-delay seconds) and a training run are going (claim: within 20%);
  - the daemon's RSS with all of that loaded (claim 400 MB); the training child is separate.

    python bench/daemon_latency.py --student DIR      # a checkpoint from `trm-lsp train`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, stdlib_copy, trm_lsp_cmd  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "stdlib_smollm2.train.jsonl"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def targets(tree: Path, with_answer: bool, limit: int) -> list[tuple[Path, int, int]]:
    """(file, 0-based line, column inside the name) of functions/methods with or without a stored answer."""
    db = sqlite3.connect(tree / ".trm-lsp" / "index.sqlite3")
    join = "JOIN" if with_answer else "LEFT JOIN"
    cond = "" if with_answer else "AND sm.sha256 IS NULL"
    rows = db.execute(
        f"SELECT DISTINCT f.path, s.sl, s.name FROM symbols s JOIN files f ON f.id = s.file_id {join} samples sm "
        f"ON sm.sha256 = s.sha256 WHERE s.kind IN ('function', 'method') AND f.language = 'python' {cond} "
        f"ORDER BY s.sha256 LIMIT ?", (limit,)).fetchall()
    db.close()
    out = []
    for path, sl, name in rows:
        lines = (tree / path).read_text(encoding="utf-8", errors="replace").splitlines()
        for number in range(sl, min(sl + 10, len(lines))):
            column = lines[number].find(f"def {name}")
            if column >= 0:
                out.append((tree / path, number, column + 4 + len(name) // 2))
                break
    return out


def lens_file(tree: Path) -> tuple[Path, int]:
    best = None
    for path in tree.rglob("*.py"):
        if ".trm-lsp" in path.parts or "test" in path.parts:
            continue
        lines = path.read_bytes().count(b"\n")
        if best is None or abs(lines - 3000) < abs(best[1] - 3000):
            best = (path, lines)
    return best


async def hover_ms(client, target) -> float:
    from lsprotocol import types

    path, line, column = target
    started = time.perf_counter()
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()), position=types.Position(line=line, character=column)))
    elapsed = (time.perf_counter() - started) * 1000
    if result is None:
        raise AssertionError(f"no hover at {path}:{line + 1}:{column}")
    return elapsed


async def lens_ms(client, path: Path) -> float:
    from lsprotocol import types

    started = time.perf_counter()
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri())))
    elapsed = (time.perf_counter() - started) * 1000
    assert lenses, f"no code lens in {path}"
    return elapsed


async def command(client, name: str):
    from lsprotocol import types

    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command=name))


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(client, answered, lens_path, requests: int) -> dict:
    hovers = [await hover_ms(client, answered[n % len(answered)]) for n in range(requests)]
    lenses = [await lens_ms(client, lens_path) for _ in range(200)]
    return {"hover_p50_ms": round(statistics.median(hovers), 2), "hover_p99_ms": round(pct(hovers, 99), 2),
            "lens_p95_ms": round(pct(lenses, 95), 2)}


async def student_hovers(client, targets_) -> list[float]:
    return [await hover_ms(client, t) for t in targets_]


async def run(args) -> dict:
    from lsprotocol import types
    from pytest_lsp import ClientServerConfig

    from tests.fake_teacher import FakeTeacher

    RESULTS.mkdir(parents=True, exist_ok=True)
    tree = stdlib_copy()
    shutil.rmtree(tree / ".trm-lsp", ignore_errors=True)
    import subprocess

    subprocess.run([*trm_lsp_cmd(), "import", str(tree), str(CORPUS)], check=True, stdout=subprocess.DEVNULL)
    shutil.copytree(args.student, tree / ".trm-lsp" / "student")
    lens_path, lens_lines = lens_file(tree)
    with FakeTeacher(delay=args.teacher_delay) as teacher:
        (tree / "trm-lsp.toml").write_text(
            f'[teacher]\nhost = "{teacher.url}"\n[serve]\ndistill = false\nretrain_after = 0\nmcp_port = 0\n'
            f"student_wait_ms = 10000\ntrain_minutes = 3\n", encoding="utf-8")
        say("starting the daemon")
        client = await ClientServerConfig(server_command=[*trm_lsp_cmd(), "serve", "--log-file", str(RESULTS / "daemon_latency.log")]).start()
        await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=tree.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=tree.as_uri(), name="stdlib")]))
        try:
            started = time.perf_counter()
            while not (await command(client, "trm-lsp.status"))["indexed"]:
                await asyncio.sleep(0.2)
            ready = time.perf_counter() - started
            answered = targets(tree, True, 1000)
            cold = targets(tree, False, args.student_hovers)
            status = await command(client, "trm-lsp.status")
            assert status["student"]["version"], status["student"]
            pid = client._server.pid
            rss_indexed = rss_mb(pid)
            say("quiet: hovers and code lenses")
            quiet = await measure(client, answered, lens_path, args.requests)
            say("student hovers")
            student_cold = await student_hovers(client, cold)
            student_warm = await student_hovers(client, cold)  # again: answered from the cache
            rss_student = rss_mb(pid)
            rss_quiet = rss_mb(pid)
            say("starting distillation and training")
            await command(client, "trm-lsp.distill")
            train = asyncio.ensure_future(command(client, "trm-lsp.train"))
            train.add_done_callback(lambda t: t.cancelled() or t.exception())  # cancelled at shutdown
            before = (await command(client, "trm-lsp.status"))["samples"]
            for _ in range(600):  # planning the whole stdlib first: wait for answers to flow
                busy_status = await command(client, "trm-lsp.status")
                if busy_status["samples"] > before + 2:
                    break
                await asyncio.sleep(0.5)
            say(f"teacher answers landing ({busy_status['samples'] - before} so far), training: "
                f"{busy_status['student']['training']}")
            say("busy: hovers and code lenses")
            busy = await measure(client, answered, lens_path, args.requests)
            busy_status_after = await command(client, "trm-lsp.status")
            rss_busy = rss_mb(pid)
        finally:
            await client.shutdown_session()
            await client.stop()
    report = {
        "tree": str(tree), "indexed_symbols_with_answers": len(answered), "ready_seconds": round(ready, 1),
        "requests": args.requests, "lens_file": str(lens_path.relative_to(tree)), "lens_file_lines": lens_lines,
        "quiet": quiet, "busy": busy,
        "busy_ratio": {k: round(busy[k] / quiet[k], 2) for k in quiet},
        "busy_while": {"teacher_answers_before": busy_status["samples"], "after": busy_status_after["samples"],
                       "training": busy_status["student"]["training"]},
        "student_hover_cold_p50_ms": round(statistics.median(student_cold), 1),
        "student_hover_cold_p95_ms": round(pct(student_cold, 95), 1),
        "student_hover_warm_p95_ms": round(pct(student_warm, 95), 2),
        "rss_mb": {"indexed": round(rss_indexed), "student_loaded_and_used": round(rss_student),
                   "quiet": round(rss_quiet), "busy": round(rss_busy)},
        "blas": status["student"].get("blas", ""),
    }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", type=Path, required=True, help="a trained student checkpoint folder")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--teacher-delay", type=float, default=0.5,
                        help="seconds the stand-in teacher takes per answer (a 1.5B model on a CPU takes more)")
    parser.add_argument("--student-hovers", type=int, default=60)
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"needs {CORPUS}", file=sys.stderr)
        return 1
    report = asyncio.run(run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "daemon_latency.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
