"""Helpers the subcommands share: workspace arguments, settings, and the stderr console."""

from __future__ import annotations

import sys
from pathlib import Path

from trm_lsp.config import ConfigError, Settings


def workspace_dir(value: str) -> Path:
    from trm_lsp.cli import UsageError

    if not value.strip():  # Path("") is the current folder: not what an empty argument meant
        raise UsageError("the workspace folder is an empty name")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise UsageError(f"{value}: not a directory")
    return path.resolve()


def load_settings(workspace: Path, overrides: dict | None = None) -> Settings:
    from trm_lsp.cli import UsageError

    try:
        return Settings.load(workspace, overrides)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def stderr_console():
    """A rich console on stderr: stdout carries only data (JSON rows, LSP messages)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def show_progress() -> bool:
    return sys.stderr.isatty()
