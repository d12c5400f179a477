"""A workspace whose files are named like the modules the daemon imports must neither break it
nor run inside it: editors start the server with the workspace as its current directory, and
`python -m` / `python -c` children would put that directory first on `sys.path`.

First a daemon (and every child it starts) runs the whole pipeline on the sample workspace
while an audit hook records each top-level module any of those processes imports. Then a
workspace holds one file per recorded name (and a few the issue named), each of which leaves a
mark and raises if imported; the daemon, started as an editor starts it, must index, hover,
show code lenses, train and answer MCP there, and no mark may appear."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from fastmcp import Client
from lsprotocol import types

from tests.serve.conftest import hover, lab_copy, lsp, position_of, wait_for

#: Records, in every Python process started with this on PYTHONPATH, each top-level module it imports.
SITECUSTOMIZE = '''
import os, sys
_out = os.environ["TRM_TEST_MODULES_DIR"]
_seen = set()
def _hook(event, args):
    if event == "import":
        top = args[0].split(".")[0]
        if top not in _seen:
            _seen.add(top)
            with open(os.path.join(_out, str(os.getpid())), "a") as fh:
                fh.write(top + "\\n")
sys.addaudithook(_hook)
'''
#: Named in the issue, whether or not this run imports them.
NAMED = {"queue", "types", "json", "logging", "numpy", "pathspec", "tokenize", "util"}
#: Cannot be shadowed from a directory on sys.path, or are this test's own hook.
NOT_SHADOWABLE = set(sys.builtin_module_names) | {"__main__", "sitecustomize", "usercustomize"}
#: A short background training run (serve.trainMinutes).
TRAIN = "train_minutes = 0.15"


def _hooked_env(modules_dir: Path) -> dict[str, str]:
    hook_dir = modules_dir.parent / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return {**os.environ, "PYTHONPATH": str(hook_dir), "TRM_TEST_MODULES_DIR": str(modules_dir)}


def _server_script() -> str:
    """The console script an editor runs (`trm-lsp serve --stdio`)."""
    script = Path(sys.executable).with_name("trm-lsp")
    assert script.exists(), f"{script} is missing: install the package (`make venv`)"
    return str(script)


async def _whole_pipeline(root: Path, env: dict[str, str]) -> dict:
    """Index, distill, train, hover, code lens and MCP, through a server started as editors do.
    Returns what each step answered."""
    factorial = root / "factorial.py"
    seen: dict = {}
    async with lsp(root, command=[_server_script(), "serve", "--stdio"], cwd=root, env=env) as client:
        await wait_for(client, lambda s: s["indexed"] and s["samples"] >= 5 and s["queue"] == 0, timeout=240)
        trained = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="trm-lsp.train"))
        seen["train"] = trained["result"][0]
        line, col = position_of(factorial, "def factorial_iterative")
        seen["hover"] = (await hover(client, factorial, line, col + 6)).contents.value
        seen["lenses"] = await client.text_document_code_lens_async(types.CodeLensParams(
            text_document=types.TextDocumentIdentifier(uri=factorial.as_uri())))
        url = json.loads((root / ".trm-lsp" / "daemon.json").read_text())["mcp_url"]
        async with Client(url) as mcp:
            reply = await mcp.call_tool("consult_logic_model", {"query": "how is the factorial computed with a loop?"})
            seen["mcp"] = reply.content[0].text
    return seen


def _check_answers(seen: dict) -> None:
    assert seen["train"].startswith("student "), seen["train"]
    assert "factorial_iterative" in seen["hover"] and "teacher deepseek-r1:1.5b" in seen["hover"], seen["hover"]
    assert len(seen["lenses"]) >= 5
    assert "factorial.py:13" in seen["mcp"], seen["mcp"]


@pytest.fixture(scope="module")
def imported_modules(tmp_path_factory) -> set[str]:
    """Top-level modules the daemon and its children import over the whole pipeline."""
    from tests.fake_teacher import FakeTeacher

    base = tmp_path_factory.mktemp("discover")
    modules_dir = base / "modules"
    modules_dir.mkdir()
    with FakeTeacher() as teacher:
        root = lab_copy(base, teacher.url, extra=TRAIN)
        seen = asyncio.run(_whole_pipeline(root, _hooked_env(modules_dir)))
    _check_answers(seen)
    names = {line for f in modules_dir.iterdir() for line in f.read_text().split()}
    assert len(list(modules_dir.iterdir())) >= 3, "the hook saw fewer processes than the daemon starts"
    return {n for n in names if n.isidentifier()}


async def test_a_workspace_of_shadowing_modules_neither_breaks_nor_runs(tmp_path, teacher, imported_modules):
    names = (imported_modules | NAMED) - NOT_SHADOWABLE
    assert {"numpy", "mlx", "pygls", "json", "sqlite3", "multiprocessing"} <= names  # the hook saw real work
    root = lab_copy(tmp_path, teacher.url, extra=TRAIN)
    marks = tmp_path / "marks"
    marks.mkdir()
    for name in names:
        (root / f"{name}.py").write_text(
            f"open({str(marks / name)!r}, 'w').close()\n"
            f"raise ImportError('the workspace file {name}.py was imported by trm-lsp')\n", encoding="utf-8")
    seen = await _whole_pipeline(root, dict(os.environ))
    _check_answers(seen)
    assert sorted(p.name for p in marks.iterdir()) == []
