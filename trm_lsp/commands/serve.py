"""`trm-lsp serve [--stdio | --tcp HOST:PORT] [--mcp-port N | --no-mcp]`: the daemon an editor
starts as its language server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--stdio", action="store_true", help="LSP over stdin/stdout (the default)")
    how.add_argument("--tcp", metavar="HOST:PORT", help="LSP over TCP instead (one client)")
    mcp = parser.add_mutually_exclusive_group()
    mcp.add_argument("--mcp-port", type=int, metavar="N",
                     help="MCP port on 127.0.0.1 (default: setting serve.mcpPort, 8765; a free one when busy)")
    mcp.add_argument("--no-mcp", action="store_true", help="do not serve MCP")
    parser.add_argument("--log-file", metavar="FILE", help="also write the log to FILE")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.cli import UsageError
    from trm_lsp.student.blas import ensure_fast_blas

    host, port = None, None
    if args.tcp:
        host, _, port_text = args.tcp.rpartition(":")
        if not host or not port_text.isdigit():
            raise UsageError(f"--tcp wants HOST:PORT, not {args.tcp!r}")
        port = int(port_text)
    if args.mcp_port is not None and not 0 <= args.mcp_port < 65536:
        raise UsageError(f"--mcp-port must be 0-65535, not {args.mcp_port}")
    ensure_fast_blas()  # before the first byte of the protocol: it re-executes the process
    _log_setup(args)
    lsp_out = _claim_stdout() if not args.tcp else None

    from trm_lsp.serve.lsp import build_server, stop_all
    from trm_lsp.serve.rpc import serve_stdio

    server = build_server(mcp=not args.no_mcp, mcp_port=args.mcp_port)
    try:
        if args.tcp:
            server.start_tcp(host, port)
        else:
            asyncio.run(serve_stdio(server, sys.stdin.buffer, lsp_out, lambda: stop_all(server)))
    finally:
        for daemon in list(server.daemons.values()):
            daemon.close()
    # Everything is committed and closed. A worker thread still finishing an index or a
    # student answer must not keep a daemon whose editor is gone alive: leave now.
    logging.shutdown()
    os._exit(0)


def _claim_stdout():
    """Keep the real stdout for LSP messages only: fd 1 becomes stderr, so a stray print, a C
    library's warning or a child process can never corrupt the protocol stream."""
    lsp_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(lsp_fd, "wb")


def _log_setup(args: argparse.Namespace) -> None:
    from trm_lsp.cli import own_records

    root = logging.getLogger()
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    for handler in root.handlers:
        handler.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if args.log_file:
        handler = logging.FileHandler(args.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(own_records)
        root.addHandler(handler)
