"""`trm-lsp mcp [DIR]`: MCP over stdio for clients that launch a command. Bridged to the
workspace's running daemon (found through `.trm-lsp/daemon.json`); with none running, a headless
daemon serves the workspace from this process."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from pathlib import Path

from trm_lsp.commands.common import load_settings, workspace_dir

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workspace", metavar="DIR", nargs="?", default=".", help="the workspace (default: .)")
    parser.add_argument("--headless", action="store_true", help="never bridge: serve from this process")


def run(args: argparse.Namespace) -> int:
    root = workspace_dir(args.workspace)
    settings = load_settings(root)
    url = None if args.headless else running_daemon(root)
    if url:
        log.info("bridging to the daemon at %s", url)
        return asyncio.run(_bridge(url, settings.serve.mcp_token))
    from trm_lsp.student.blas import ensure_fast_blas

    ensure_fast_blas()
    return asyncio.run(_headless(root, settings))


def running_daemon(root: Path) -> str | None:
    """The MCP URL of a live daemon serving `root`, or None."""
    from trm_lsp.store import StoreError, state_dir

    try:
        record = json.loads((state_dir(root) / "daemon.json").read_text(encoding="utf-8"))
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError, StoreError):
        return None
    return record.get("mcp_url") or None


async def _bridge(url: str, token: str) -> int:
    from fastmcp import Client
    from fastmcp.server import create_proxy

    proxy = create_proxy(Client(url, auth=token or None), name="trm-lsp")
    await proxy.run_stdio_async(show_banner=False)
    return 0


async def _headless(root: Path, settings) -> int:
    from trm_lsp.serve.daemon import Daemon
    from trm_lsp.serve.mcp_server import build_mcp

    daemon = Daemon(root, settings)
    await daemon.start()
    try:
        await build_mcp(daemon).run_stdio_async(show_banner=False)
    finally:
        await daemon.stop()
    return 0
