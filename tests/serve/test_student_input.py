"""The student reads a symbol's doc comment as the teacher does: in the samples it trains on, the
code it answers for on hover, and the code search embeds. The sample format stays the bare text."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, write
from trm_lsp.serve.training import workspace_records, write_training_file
from trm_lsp.store import Store
from trm_lsp.student.code_input import DOC_CHARS, with_doc
from trm_lsp.student.data import load_samples

GO = """package queue

// Queue is a FIFO ring buffer that grows by doubling.
// It is not safe for concurrent use.
type Queue struct {
	items []int
}

func (q *Queue) Len() int { return len(q.items) }
"""

PY = '''def evict(entries, limit):
    """Drops the oldest entries past the limit."""
    return entries[-limit:]


# Keeps the newest half.
def halve(entries):
    return entries[len(entries) // 2:]
'''

SH = """# Rotates the backups, keeping the last seven.
rotate() {
  ls
}
"""


def test_training_samples_carry_the_doc_comment_the_symbol_text_lacks(workspace: Path, fake_teacher, tmp_path: Path):
    write(workspace, "queue.go", GO)
    write(workspace, "cache.py", PY)
    write(workspace, "backup.sh", SH)
    run_cli("distill", str(workspace), "--host", fake_teacher.url)
    store = Store.for_workspace(workspace)
    try:
        listed = workspace_records(store)
        records = {r.symbol: r for r in listed}
        write_training_file(listed, tmp_path / "train.jsonl")
    finally:
        store.close()
    assert {"Queue", "Queue.Len", "evict", "halve", "rotate"} <= set(records)
    # Go's comment sits above the type, outside its text: the student is shown it, once, on top.
    assert records["Queue"].input.startswith(
        "// Queue is a FIFO ring buffer that grows by doubling. It is not safe for concurrent use.\ntype Queue struct")
    assert records["Queue.Len"].input.startswith("func (q *Queue) Len()")  # no comment, nothing added
    # A docstring is in the text already; a comment above a Python function or shell function is not.
    assert records["evict"].input.startswith("def evict(") and records["evict"].input.count("Drops the oldest") == 1
    assert records["halve"].input.startswith("# Keeps the newest half.\ndef halve(")
    assert records["rotate"].input.startswith("# Rotates the backups, keeping the last seven.\nrotate()")
    # `trm-lsp train` reads the daemon's training file back as the same records.
    loaded = {r.symbol: r.input for r in load_samples(tmp_path / "train.jsonl").records}
    assert loaded == {s: r.input for s, r in records.items()}
    # The sample format (`trm-lsp export`) keeps `input` the symbol's own text, its hash the cache key.
    run_cli("export", str(workspace))
    exported = [json.loads(line) for line in (workspace / ".trm-lsp" / "custom_logic.jsonl").read_text().splitlines()]
    assert next(r for r in exported if r["symbol"] == "Queue")["input"].startswith("type Queue struct")


def test_a_long_doc_comment_is_cut_at_a_word_to_leave_room_for_the_code():
    doc = "Splits the input. " * 40 + "\n\nA second paragraph the student never sees."
    text = with_doc("func Split() {}", doc, "go")
    comment, code = text.split("\n", 1)
    assert code == "func Split() {}"
    assert len(comment) <= DOC_CHARS + 3 and comment.endswith("input.") and "second paragraph" not in text
