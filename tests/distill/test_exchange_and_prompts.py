"""Export/import in the sample format, and what the prompts carry."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from tests.conftest import run_cli, write
from tests.docgen import make_docx
from trm_lsp.distill.context import ContextIndex
from trm_lsp.store import symbols
from trm_lsp.distill.prompts import build_prompt
from trm_lsp.indexer import index_workspace
from trm_lsp.store import Store

SAMPLE_KEYS = {"id", "path", "language", "kind", "symbol", "start_line", "end_line", "sha256", "input",
               "reasoning", "output", "teacher", "created_at"}


def test_export_then_import_into_a_fresh_workspace(workspace: Path, tmp_path: Path, fake_teacher):
    write(workspace, "m.py", "def a(x):\n    return x\n\n\ndef b(x):\n    return a(x)\n")
    run_cli("distill", str(workspace), "--host", fake_teacher.url)
    run_cli("export", str(workspace))
    exported = workspace / ".trm-lsp" / "custom_logic.jsonl"
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert SAMPLE_KEYS <= set(record)
        assert record["sha256"] == hashlib.sha256(record["input"].encode()).hexdigest()
        assert record["teacher"] == "deepseek-r1:1.5b" and record["reasoning"] and record["output"]

    other = tmp_path / "other"
    other.mkdir()
    write(other, "m.py", (workspace / "m.py").read_text())
    result = run_cli("import", str(other), str(exported))
    assert "imported 2 samples, 0 already present, 0 rejected" in result.stderr
    assert "imported 0 samples, 2 already present" in run_cli("import", str(other), str(exported)).stderr
    # Imported answers count as cached: distilling asks nothing.
    calls = fake_teacher.calls
    assert "asked 0, answered 0, cached 2" in run_cli("distill", str(other), "--host", fake_teacher.url).stderr
    assert fake_teacher.calls == calls


def test_import_reports_bad_lines_by_number(workspace: Path, tmp_path: Path):
    good = {"path": "a.py", "language": "python", "kind": "function", "symbol": "a", "start_line": 1, "end_line": 2,
            "input": "def a(): pass", "reasoning": "", "output": "Does nothing at all.", "teacher": "t"}
    good["sha256"] = hashlib.sha256(good["input"].encode()).hexdigest()
    lines = [json.dumps(good), "{not json", json.dumps({**good, "sha256": "0" * 64}), "", json.dumps([1]),
             json.dumps({k: v for k, v in good.items() if k != "teacher"})]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = run_cli("import", str(workspace), str(source))
    assert "imported 1 samples, 0 already present, 4 rejected" in result.stderr
    for expected in ("line 2: not JSON", "line 3: sha256 is not the hash of input", "line 5: not a JSON object",
                     "line 6: missing teacher"):
        assert expected in result.stderr
    nothing = run_cli("import", str(workspace), str(source.with_name("none.jsonl")), check=False)
    assert nothing.returncode == 2 and "no such file" in nothing.stderr
    bom = source.with_name("bom.jsonl")
    bom.write_text(lines[0] + "\n", encoding="utf-8-sig")  # Notepad's UTF-8: its first record is read too
    assert "imported 0 samples, 1 already present, 0 rejected" in run_cli("import", str(workspace), str(bom)).stderr
    junk, utf16 = source.with_name("junk.jsonl"), source.with_name("utf16.jsonl")
    junk.write_text("{not json\n[1]\n")
    utf16.write_text(lines[0] + "\n", encoding="utf-16")  # as Windows tools save it
    for bad, why in ((junk, ""), (utf16, ": it is UTF-16; save it as UTF-8")):
        failed = run_cli("import", str(workspace), str(bad), check=False)  # nothing imported: a failure
        assert failed.returncode == 1 and f"no line of {bad} is a sample{why}" in failed.stderr, failed.stderr


def test_import_takes_iso_dates_and_numbers_for_created_at(workspace: Path, tmp_path: Path):
    """The shared corpus writes `created_at` as an ISO date; exports write seconds."""
    base = {"path": "a.py", "language": "python", "kind": "function", "start_line": 1, "end_line": 2,
            "reasoning": "", "output": "Does nothing at all.", "teacher": "t"}
    records = []
    for n, stamp in enumerate(("2026-11-26", "2026-11-26T10:00:00Z", 1700000000.5, "not a date")):
        text = f"def f{n}(): pass"
        records.append({**base, "symbol": f"f{n}", "input": text, "sha256": hashlib.sha256(text.encode()).hexdigest(),
                        "created_at": stamp})
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert "imported 4 samples, 0 already present, 0 rejected" in run_cli("import", str(workspace), str(source)).stderr
    out = tmp_path / "out.jsonl"
    run_cli("export", str(workspace), "-o", str(out))
    stamps = {json.loads(line)["symbol"]: json.loads(line)["created_at"] for line in out.read_text().splitlines()}
    assert stamps["f0"] == 1795651200.0 and stamps["f1"] == 1795651200.0 + 36000 and stamps["f2"] == 1700000000.5
    assert stamps["f3"] > 1795651200.0  # unreadable: the time of import


def prompt_for(root: Path, qualname: str) -> str:
    store = Store.for_workspace(root)
    index_workspace(root, store)
    sha = store.db.execute("SELECT sha256 FROM symbols WHERE qualname=?", (qualname,)).fetchone()[0]
    store.db.row_factory = sqlite3.Row
    symbol = symbols.by_sha(store, sha)
    prompt = build_prompt(symbol, symbols.text_of(store, symbol), ContextIndex(store), 1200, 12000)
    store.close()
    return prompt.messages[-1]["content"]


def test_a_method_prompt_carries_path_class_signature_doc_and_callees(workspace: Path):
    write(workspace, "pkg/cache.py", '''def evict(entries, limit):
    """Drops the oldest entries past the limit."""
    return entries[-limit:]


class Cache:
    def put(self, key: str, value: object) -> None:
        """Stores one value and evicts the oldest past the limit."""
        self.entries.append((key, value))
        self.entries = evict(self.entries, self.limit)
''')
    make_docx(workspace / "spec.docx", [("Cache eviction", ["The cache evicts the oldest entries past its limit."]),
                                        ("Logging", ["Logs go to stderr."])])
    text = prompt_for(workspace, "Cache.put")
    assert "Explain this Python method `Cache.put`" in text
    assert "File: pkg/cache.py" in text and "Inside: Cache" in text
    assert "Signature: def put(self, key: str, value: object) -> None" in text
    assert "Stores one value and evicts the oldest past the limit." in text
    assert "It calls: evict (def evict(entries, limit))" in text
    assert "Related document spec.docx (Cache eviction)" in text and "Logs go to stderr" not in text
    assert "Explanation:" in text


def test_typescript_prompts_include_the_types_used(workspace: Path):
    write(workspace, "types.ts", "export interface Point { x: number; y: number }\n")
    write(workspace, "geo.ts", "import { Point } from './types';\n"
                               "export function norm(p: Point): number {\n  return Math.hypot(p.x, p.y);\n}\n")
    text = prompt_for(workspace, "norm")
    assert "Type Point (types.ts)" in text and "export interface Point { x: number; y: number }" in text


def test_document_items_get_a_document_prompt(workspace: Path):
    make_docx(workspace / "spec.docx", [("Retry policy", ["Each call is retried three times with backoff."])])
    text = prompt_for(workspace, "Retry policy")
    assert "section of a Word document" in text and "Each call is retried three times" in text


def _good_record(n: int = 0) -> dict:
    text = f"def g{n}(): pass"
    return {"path": "a.py", "language": "python", "kind": "function", "symbol": f"g{n}", "start_line": 1,
            "end_line": 2, "input": text, "sha256": hashlib.sha256(text.encode()).hexdigest(), "reasoning": "",
            "output": "Does nothing at all.", "teacher": "t"}


def test_one_wrongly_typed_record_is_rejected_alone_with_its_line(workspace: Path, tmp_path: Path):
    bad = [('"start_line": "ten"', "start_line must be a whole number"), ('"start_line": [1]', "start_line must"),
           ('"end_line": 1e400', "end_line must"), ('"end_line": 1000000000000000000000000000000', "end_line must"),
           ('"prompt_version": "abc"', "prompt_version must"), ('"output": "bad \\ud800 text"', "not valid Unicode"),
           ('"reasoning": {"a": 1}', "reasoning must be text"), ('"created_at": 1e400', "created_at must"),
           ('"start_line": ' + "9" * 5000, "not JSON"), ('"x": ' + "[" * 100000, "not JSON")]
    lines = []
    for n, (field, _) in enumerate(bad):
        record = json.dumps(_good_record(n))
        lines.append(record[:-1] + ", " + field + "}")
    lines.append(json.dumps(_good_record(99)))
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = run_cli("import", str(workspace), str(source))
    assert f"imported 1 samples, 0 already present, {len(bad)} rejected" in result.stderr, result.stderr
    for number, (_, reason) in enumerate(bad, 1):
        assert any(line.strip().startswith(f"line {number}: ") and reason in line
                   for line in result.stderr.splitlines()), reason
