"""Background work made visible: one `Task` per indexing, distilling or training run, shown as
LSP `$/progress` by the language server and as log lines when headless."""

from __future__ import annotations

import logging
from typing import Callable, Protocol

log = logging.getLogger(__name__)


class Task(Protocol):
    def report(self, message: str, percentage: int | None = None) -> None: ...

    def end(self, message: str) -> None: ...


class Reporter(Protocol):
    def begin(self, title: str, cancel: Callable[[], None] | None = None) -> Task: ...

    def notify(self, level: str, message: str) -> None:
        """A message the user should see once (`window/showMessage`): level info|warning|error."""

    def answers_changed(self) -> None:
        """New answers landed: the client should refresh its code lenses."""


class LogTask:
    def __init__(self, title: str) -> None:
        self.title = title
        log.info("%s: started", title)

    def report(self, message: str, percentage: int | None = None) -> None:
        log.debug("%s: %s%s", self.title, message, f" ({percentage}%)" if percentage is not None else "")

    def end(self, message: str) -> None:
        log.info("%s: %s", self.title, message)


class LogReporter:
    """For the headless daemon (`trm-lsp mcp`, `trm-lsp serve` with no editor attached yet)."""

    def begin(self, title: str, cancel: Callable[[], None] | None = None) -> Task:
        return LogTask(title)

    def notify(self, level: str, message: str) -> None:
        log.log(logging.ERROR if level == "error" else logging.WARNING, "%s", message)

    def answers_changed(self) -> None:
        return None
