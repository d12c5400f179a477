"""`trm-lsp mcp [DIR]`: MCP over stdio for clients that launch a command. Bridged to the
workspace's running daemon (found through `.trm-lsp/daemon.json`); with none running, a headless
daemon serves the workspace from this process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
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
        problem = reachable(url, settings.serve.mcp_token)
        if problem == UNAUTHORIZED:
            log.error("the daemon at %s wants a bearer token (serve.mcpToken) other than the one this command has "
                      "(none, or another): set the same serve.mcpToken in %s, which `trm-lsp mcp` reads", url,
                      root / "trm-lsp.toml")
            return 1
        if not problem:
            log.info("bridging to the daemon at %s", url)
            return asyncio.run(_bridge(url, settings.serve.mcp_token))
        log.warning("the daemon in %s does not answer at %s (%s): serving from this process instead",
                    _daemon_file(root), url, problem)
    from trm_lsp.student.blas import ensure_fast_blas

    # Re-executed headless: the daemon is not probed (nor the warning said) twice.
    ensure_fast_blas(sys.argv[1:] + ([] if args.headless else ["--headless"]))
    code = asyncio.run(_headless(root, settings))
    # As `serve` leaves: everything is committed and closed, and neither a student answer still
    # running on its thread nor MLX's thread state (the checkpoint is read on a worker) may hold
    # the exit of a process whose client has gone.
    with contextlib.suppress(OSError):  # the client has gone: nothing more to say to it
        sys.stdout.flush()
    logging.shutdown()
    os._exit(code)


def _daemon_file(root: Path) -> Path:
    """Where a daemon serving `root` records its MCP URL (the state dir may be outside a
    read-only workspace)."""
    from trm_lsp.store import state_dir

    return state_dir(root) / "daemon.json"


def running_daemon(root: Path) -> str | None:
    """The MCP URL of a live daemon serving `root`, or None."""
    from trm_lsp.store import StoreError

    try:
        record = json.loads(_daemon_file(root).read_text(encoding="utf-8"))
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError, StoreError):
        return None
    return record.get("mcp_url") or None


UNAUTHORIZED = "401 Unauthorized"


def reachable(url: str, token: str, timeout: float = 3.0) -> str:
    """"" unless nobody serves MCP at `url` (then why) or it refuses our token (`UNAUTHORIZED`):
    a daemon.json can outlive its daemon and its pid be another process's by now, and the
    daemon's token can be set where this command does not read it (the editor's settings). A
    daemon that is slow to answer (starting, busy) is taken as there: serving the workspace
    from here too would run a second indexer and distiller on its store."""
    import httpx

    hello = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "trm-lsp mcp", "version": "1"}}}
    headers = {"accept": "application/json, text/event-stream"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    try:
        with httpx.Client(timeout=timeout) as http:
            reply = http.post(url, json=hello, headers=headers)
            session = reply.headers.get("mcp-session-id")
            if session:  # the probe's session ends here, not left open in the daemon
                http.delete(url, headers={**headers, "mcp-session-id": session})
    except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
        return str(exc) or type(exc).__name__
    except httpx.HTTPError as exc:  # slow, not gone
        log.info("the daemon at %s is slow to answer (%s); bridging to it anyway", url, exc or type(exc).__name__)
        return ""
    if reply.status_code == 401:
        return UNAUTHORIZED
    return "" if reply.status_code == 200 else f"HTTP {reply.status_code}"


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
