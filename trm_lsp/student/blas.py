"""Which BLAS MLX runs on, and a fast one where the machine has it.

The Linux `mlx[cpu]` wheel bundles a reference (netlib) BLAS, ~20-30x slower than OpenBLAS for
the matrix products that dominate training. `ensure_fast_blas()` re-executes the command with
Debian's OpenBLAS preloaded (`libopenblas0-pthread`) when it is installed; TRM_LSP_BLAS=reference
turns that off. Every training and evaluation report says which one ran.
"""

from __future__ import annotations

import glob
import json
import os
import sys

from trm_lsp.interpreter import protect_children, python_argv

_ENV = "TRM_LSP_BLAS"
_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib64/libopenblas.so.0",
)


def openblas_path() -> str | None:
    for path in _CANDIDATES:
        if os.path.exists(path):
            return path
    found = sorted(glob.glob("/usr/lib/*/openblas*/libblas.so.3"))
    return found[0] if found else None


def active_blas() -> str:
    """'accelerate' on macOS; on Linux 'openblas' when it is mapped into this process, else
    'reference' (MLX's bundled netlib BLAS)."""
    if sys.platform == "darwin":
        return "accelerate"
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split()[-1] for line in fh if "/" in line}
    except OSError:
        return "unknown"
    # numpy's wheel maps its own private OpenBLAS from site-packages; MLX does not use it.
    system = [p for p in paths if "openblas" in p and "site-packages" not in p]
    return "openblas" if system else "reference"


def share_cores(env: dict[str, str]) -> None:
    """Under `mlx.launch`, give each rank its share of this host's cores for BLAS, unless the
    user chose: two ranks on 2 cores each running 2 OpenBLAS threads made a step 20x slower
    than one rank (measured: 31 s vs 1.5 s for 32 tiny steps; 5.5 s with one thread each).
    Before MLX loads: `ensure_fast_blas` calls it first, and the re-exec inherits it."""
    if "MLX_RANK" not in env or "OPENBLAS_NUM_THREADS" in env:
        return
    try:
        with open(env.get("MLX_HOSTFILE", ""), encoding="utf-8") as fh:
            hosts = [str(entry[0]).rsplit(":", 1)[0] for entry in json.load(fh)]
        mine = hosts[int(env["MLX_RANK"])]
        here = max(1, sum(1 for h in hosts if h == mine))  # ranks sharing this host
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        here = 1  # no readable hostfile (MPI): one rank per host, as `mlx.launch --hostfile` is used
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    env["OPENBLAS_NUM_THREADS"] = str(max(1, cores // here))


def ensure_fast_blas(argv: list[str] | None = None) -> None:
    """Re-exec this process with OpenBLAS preloaded, once, where it helps and is allowed (and,
    under `mlx.launch`, with this rank's share of the cores: `share_cores`)."""
    share_cores(os.environ)
    if sys.platform != "linux" or os.environ.get(_ENV) in ("reference", "off", "openblas"):
        return
    path = openblas_path()
    if path is None or "openblas" in os.environ.get("LD_PRELOAD", ""):
        return
    env = protect_children(dict(os.environ))
    env["LD_PRELOAD"] = f"{path}:{env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else path
    env[_ENV] = "openblas"  # no loop if the preload does not take
    os.execve(sys.executable, python_argv("trm_lsp", *(argv if argv is not None else sys.argv[1:])), env)
