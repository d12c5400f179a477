"""`trm-lsp explain` and `trm-lsp demo`, as a user runs them."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

from tests.conftest import free_port, run_cli
from tests.serve.conftest import LAB, lab_copy


def test_explain_by_name_and_by_line_with_its_source(tmp_path, teacher):
    root = lab_copy(tmp_path, teacher.url, distill=False)
    run_cli("distill", str(root), "--limit", "3")
    by_name = json.loads(run_cli("explain", str(root), "factorial.py::factorial_iterative", "--json").stdout)
    by_line = json.loads(run_cli("explain", str(root), "factorial.py:17", "--json").stdout)
    assert by_name["symbol"] == by_line["symbol"] == "factorial_iterative"
    assert by_name["path"] == "factorial.py" and by_name["line"] == 13
    assert by_name["source"] in ("teacher", "structure")
    text = run_cli("explain", str(root), "factorial.py::factorial_recursive").stdout
    assert text.startswith("factorial_recursive (function) factorial.py:4\n") and "-- " in text
    assert run_cli("explain", str(root), "factorial.py", check=False).returncode == 2
    missing = run_cli("explain", str(root), "factorial.py::nope", check=False)
    assert missing.returncode == 1 and "no indexed symbol" in missing.stderr


def test_demo_without_a_teacher_imports_the_recorded_answers_and_trains(tmp_path, teacher):
    recorded_ws = lab_copy(tmp_path / "a", teacher.url, distill=False)
    run_cli("distill", str(recorded_ws))
    recorded = tmp_path / "recorded.jsonl"
    run_cli("export", str(recorded_ws), "-o", str(recorded))
    root = tmp_path / "b" / "logic_lab"
    shutil.copytree(LAB, root, ignore=shutil.ignore_patterns(".trm-lsp", "*.png", "*.pdf", "*.docx", "*.vsdx",
                                                              "*.drawio"))
    (root / "trm-lsp.toml").write_text(f'[teacher]\nhost = "http://127.0.0.1:{free_port()}"\n', encoding="utf-8")
    result = run_cli("demo", "--workspace", str(root), "--recorded", str(recorded), "--train-minutes", "0.2",
                     timeout=600)
    out = result.stderr
    assert "using the recorded answers instead" in out
    assert "from the live teacher" in out and "fine-tuned from the pretrained base on" in out
    # Both sources in the table: the teacher's answers, and the student's (or its gate declining).
    assert ("TRM student" in out or "declined" in out) and "deepseek-r1:1.5b" in out
    assert "explain" in out and "editors/neovim" in out
    # "Try it now" runs as printed, though the venv's bin is not on PATH (`make demo` does not put it there).
    (command,) = [line.split("Try it now:", 1)[1] for line in out.splitlines() if "Try it now:" in line]
    tried = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=300)
    assert tried.returncode == 0 and tried.stdout.startswith("factorial_iterative (function)"), tried.stderr
