"""Starting our own Python processes without the user's workspace on `sys.path`.

Editors start the language server with the workspace as its current directory, and
`python -m ...` or `python -c ...` put the current directory first on `sys.path`: a workspace
holding `pathspec.py`, `queue.py` or a `logging/` package would then be imported in place of
the real module, breaking the daemon or running the user's code inside it. Every child we start
(the BLAS re-exec, training, planning, multiprocessing workers) therefore runs with
`PYTHONSAFEPATH=1` / `-P` (Python 3.11+), which keeps the current directory off `sys.path`
whatever the child imports, including interpreters that multiprocessing starts on its own.

Children also die with the process that started them (Linux' parent-death signal): a kill -9
of the daemon or of `trm-lsp index` must not leave workers, a forkserver or a training run
behind, holding the store open with nobody to report to.
"""

import os
import sys

SAFE_PATH_ENV = "PYTHONSAFEPATH"
#: The pid of the trm-lsp process that started this one (set for every child it starts).
PARENT_ENV = "TRM_LSP_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def python_argv(module: str, *args: str) -> list[str]:
    """`python -P -m module args...` for this interpreter."""
    return [sys.executable, "-P", "-m", module, *args]


def protect_children(env: dict[str, str] | None = None) -> dict[str, str]:
    """Mark `env` (by default this process's own environment, which every child inherits) so
    that Python children never import from their current directory. Returns `env`."""
    target = os.environ if env is None else env
    target[SAFE_PATH_ENV] = "1"
    target[PARENT_ENV] = str(os.getpid())
    return target  # type: ignore[return-value]


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux only; elsewhere a no-op).
    Every process pool's workers arm it (`die_with_owner`)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)


def die_with_owner(owner: int) -> None:
    """The worker initializer of every process pool: die with the pool's owner, `owner`, the
    process that made the pool. A forkserver's workers are the forkserver's children, not the
    daemon's, and each holds the daemon's end of the pipe that would tell the forkserver the
    daemon is gone: after a kill -9 of the daemon mid-index, the forkserver waited for that pipe
    and the workers for a reader of their results, for ever (a probe, stop 41). Such a worker
    watches its owner once a second and leaves when it has gone; then the forkserver sees the
    pipe close and leaves too."""
    die_with_parent()
    if owner != os.getppid() and sys.platform.startswith("linux"):
        import threading

        threading.Thread(target=_leave_without, args=(owner,), name="trm-lsp owner watch", daemon=True).start()


def _leave_without(owner: int) -> None:
    import time

    while True:
        time.sleep(1.0)
        fields = proc_stat(owner)
        if fields is None or fields[0] in ("Z", "X"):  # gone, or dead and not yet reaped by its parent
            os._exit(1)


def proc_stat(pid: int) -> list[str] | None:
    """The fields of Linux's /proc/<pid>/stat after the command name (state first, start time at
    index 19), or None when there is no such process (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields or None


def die_with_starter() -> None:
    """In a process a trm-lsp process started (`PARENT_ENV` names its parent): die with it."""
    if os.environ.get(PARENT_ENV) == str(os.getppid()):
        die_with_parent()


def drop_current_directory() -> None:
    """For `python -m trm_lsp` started without -P: take the current directory off `sys.path`
    before anything else is imported. Only `trm_lsp` itself was found there, and its
    submodules resolve through the package, not through `sys.path`."""
    if sys.flags.safe_path:
        return
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", cwd)]
