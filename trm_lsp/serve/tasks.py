"""Background tasks that are never lost: each is held until it ends (asyncio keeps only a weak
reference to a bare task, which may then be collected mid-flight) and one that fails is logged
and reported, never dropped silently."""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Coroutine

log = logging.getLogger(__name__)


def supervise(coro: Coroutine, name: str, held: set[asyncio.Task],
              on_error: Callable[[str, BaseException], None] | None = None) -> asyncio.Task:
    """Run `coro` as a task named `name`, kept in `held` until it ends; a failure is logged with
    its traceback and passed to `on_error` (which tells the user)."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    held.add(task)

    def finished(t: asyncio.Task) -> None:
        held.discard(t)
        if t.cancelled() or t.exception() is None:
            return
        log.error("%s failed: %s", name, t.exception(), exc_info=t.exception())
        if on_error is not None:
            on_error(name, t.exception())

    task.add_done_callback(finished)
    return task
