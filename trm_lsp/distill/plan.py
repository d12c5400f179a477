"""Planning a distillation run: recover, cancel, enqueue, and put callees before callers
(RepoAgent's lesson: an explanation of a caller is better when its callees are explained).

The daemon runs it as a child, `python -P -m trm_lsp.distill.plan STORE TEACHER RETRY`, which
prints the counts as one JSON object (see `DistillWorker.replan`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from trm_lsp.distill.context import CALL
from trm_lsp.distill.prompts import EXPLAINABLE, PROMPT_VERSION
from trm_lsp.interpreter import die_with_starter
from trm_lsp.store import Store, symbols
from trm_lsp.store.jobs import Jobs



def plan(store: Store, jobs: Jobs, retry_failed: bool = True) -> dict[str, int]:
    """Bring the queue in line with the index. Returns counts for the summary."""
    with store.transaction():
        recovered = jobs.recover()
        retried = jobs.retry_failed() if retry_failed else 0
        cancelled = len(jobs.cancel_stale())
        added = jobs.enqueue_missing(EXPLAINABLE)
    pending = jobs.pending_shas()
    with store.transaction():
        jobs.set_order(reference_order(store, pending))
    explainable = jobs.explainable(EXPLAINABLE)
    return {"explainable": explainable, "pending": len(pending), "added": added, "recovered": recovered,
            "retried": retried, "cancelled": cancelled, "cached": explainable - len(pending)}


def texts_for(store: Store, shas: list[str]) -> dict[str, tuple[str, str]]:
    """sha -> (name, text) for these symbol texts, reading each file once."""
    wanted = set(shas)
    out: dict[str, tuple[str, str]] = {}
    if not wanted:
        return out
    current, data = None, b""
    for s in symbols.each(store, "ORDER BY f.path"):  # streamed: every symbol of a large workspace
        if s.sha256 not in wanted or s.sha256 in out:
            continue
        if s.text is not None:
            out[s.sha256] = (s.name, s.text)
            continue
        if s.path != current:
            current = s.path
            try:
                data = (Path(store.workspace) / s.path).read_bytes()
            except OSError:
                data = b""
        text = symbols.verified_text(data[s.start_byte:s.end_byte], s.sha256)
        if text is not None:
            out[s.sha256] = (s.name, text)
    return out


def reference_order(store: Store, shas: list[str]) -> dict[str, int]:
    """A rank per symbol text: symbols that call no other pending symbol first, then their
    callers, level by level. Cycles are cut where they close."""
    texts = texts_for(store, shas)
    by_name: dict[str, set[str]] = {}
    for sha, (name, _) in texts.items():
        by_name.setdefault(name, set()).add(sha)
    callees = {
        sha: {c for name in set(CALL.findall(text)) for c in by_name.get(name, ()) if c != sha}
        for sha, (_, text) in texts.items()
    }
    level: dict[str, int] = {}
    for root in sorted(texts):
        if root in level:
            continue
        stack: list[tuple[str, bool]] = [(root, False)]
        on_path: set[str] = set()
        while stack:  # iterative post-order: a long call chain must not hit the recursion limit
            sha, expanded = stack.pop()
            if expanded:
                on_path.discard(sha)
                level[sha] = 1 + max((level.get(c, 0) for c in callees[sha] if c in level), default=-1)
                continue
            if sha in level or sha in on_path:
                continue
            on_path.add(sha)
            stack.append((sha, True))
            stack.extend((c, False) for c in callees[sha] if c not in level and c not in on_path)
    ordered = sorted(texts, key=lambda sha: (level.get(sha, 0), sha))
    return {sha: rank for rank, sha in enumerate(ordered)}


def main(argv: list[str]) -> int:
    die_with_starter()
    store_path, workspace, teacher, retry_failed = argv
    store = Store(Path(store_path), workspace=Path(workspace))
    print(json.dumps(plan(store, Jobs(store, teacher, PROMPT_VERSION), retry_failed == "1")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
