"""`$/progress` for the language server: the `Task` a daemon reports indexing, distilling and
training through (serve/progress.py has the protocol and the headless version)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from concurrent.futures import Future
from typing import TYPE_CHECKING, Callable

from lsprotocol import types

if TYPE_CHECKING:
    from trm_lsp.serve.lsp.server import TrmLanguageServer

log = logging.getLogger(__name__)


class ProgressTask:
    """`$/progress` begin/report/end on a server-created token, in order, once the client
    accepted the token; cancellable from the client's UI where `cancel` is given."""

    def __init__(self, ls: TrmLanguageServer, title: str, cancel: Callable[[], None] | None) -> None:
        self.ls, self.title = ls, title
        self.token = f"trm-lsp/{title.lower().replace(' ', '-')}/{uuid.uuid4().hex[:8]}"
        self.enabled = ls.supports_progress()
        self._last_pct = -1
        self._chain: asyncio.Future | None = None
        log.info("%s: started", title)
        if self.enabled:
            self._chain = asyncio.ensure_future(self._create(cancel))
            self._then(lambda: ls.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
                title=f"trm-lsp: {title}", cancellable=cancel is not None, percentage=0)))

    async def _create(self, cancel: Callable[[], None] | None) -> None:
        await self.ls.work_done_progress.create_async(self.token)
        future: Future | None = self.ls.work_done_progress.tokens.get(self.token)
        if future is not None and cancel is not None:
            # pygls cancels this future on the loop thread when the user presses "Cancel".
            future.add_done_callback(lambda f: cancel() if f.cancelled() else None)

    def _then(self, send: Callable[[], None]) -> None:
        previous = self._chain

        async def step() -> None:
            try:
                await previous
            except Exception as exc:  # the client refused the token: progress stays in the log
                log.debug("progress %s not shown: %s", self.token, exc)
                return
            send()

        self._chain = asyncio.ensure_future(step())

    def report(self, message: str, percentage: int | None = None) -> None:
        if not self.enabled:
            return
        if percentage is not None:
            if percentage == self._last_pct and not message:
                return
            self._last_pct = percentage
        self._then(lambda: self.ls.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)))

    def end(self, message: str) -> None:
        log.info("%s: %s", self.title, message)
        if self.enabled:
            self._then(lambda: (self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message)),
                                self.ls.work_done_progress.tokens.pop(self.token, None)))
