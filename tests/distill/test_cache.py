"""Teacher answers are cached per symbol by content hash: an edit costs one call, a rename none
(issue 4). Calls are counted at the teacher server."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli, write


def make_workspace(root: Path) -> int:
    """12 modules of 26 functions: 312 explainable symbols, every text distinct."""
    for m in range(12):
        body = "".join(f"def f_{m}_{n}(x):\n    return x * {m} + {n}\n\n" for n in range(26))
        write(root, f"pkg/mod{m}.py", body)
    return 12 * 26


def distill(root: Path, url: str) -> str:
    return run_cli("distill", str(root), "--host", url, "--concurrency", "4").stderr


def test_one_teacher_call_for_one_edited_function(workspace: Path, fake_teacher):
    total = make_workspace(workspace)
    assert total >= 300
    stderr = distill(workspace, fake_teacher.url)
    assert fake_teacher.calls == total
    assert f"asked {total}, answered {total}, cached 0, failed 0" in stderr

    distill(workspace, fake_teacher.url)
    assert fake_teacher.calls == total  # nothing changed: no call

    path = workspace / "pkg/mod3.py"
    path.write_text(path.read_text().replace("return x * 3 + 7", "return x * 3 + 700"))
    stderr = distill(workspace, fake_teacher.url)
    assert fake_teacher.calls == total + 1
    assert "f_3_7" in fake_teacher.prompts[-1] and "700" in fake_teacher.prompts[-1]
    assert f"asked 1, answered 1, cached {total - 1}" in stderr

    (workspace / "pkg/mod5.py").rename(workspace / "pkg/renamed5.py")
    distill(workspace, fake_teacher.url)
    assert fake_teacher.calls == total + 1  # same content, same hash: no call


def test_identical_text_in_two_files_is_asked_once(workspace: Path, fake_teacher):
    write(workspace, "a.py", "def same(x):\n    return x\n")
    write(workspace, "b.py", "def same(x):\n    return x\n")
    distill(workspace, fake_teacher.url)
    assert fake_teacher.calls == 1
