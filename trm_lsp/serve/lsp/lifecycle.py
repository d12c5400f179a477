"""Start, settings, workspace folders and stop: `initialize` takes the client's options,
`initialized` opens a daemon per folder (and MCP beside the first), a settings change is applied
live, `shutdown` and `exit` let every daemon commit before the process ends."""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from trm_lsp.serve import lookup
from trm_lsp.serve.lsp.documents import watch_files
from trm_lsp.serve.lsp.server import (SECTION, ClientLog, TrmLanguageServer, begin_stop, client_configuration, open_folder,
                                      roots, stop_all)

log = logging.getLogger(__name__)

#: How long `exit` waits for the daemons to stop before leaving anyway.
EXIT_GRACE_SECONDS = 10.0


def register(server: TrmLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: TrmLanguageServer, params: types.InitializeParams) -> None:
        options = params.initialization_options or {}
        if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
            options = options[SECTION]
        ls.options = options if isinstance(options, dict) else {}

    @server.feature(types.INITIALIZED)
    async def initialized(ls: TrmLanguageServer, params: types.InitializedParams) -> None:
        handler = ClientLog(ls, asyncio.get_running_loop())
        logging.getLogger("trm_lsp").addHandler(handler)
        options = await client_configuration(ls) or ls.options
        ls.options = options
        folders = roots(ls)
        if not folders:
            ls.notify("warning", "trm-lsp: the editor opened no workspace folder, so there is nothing to index and "
                                 "hovers stay empty; open a folder (or start the editor inside a project)")
        for root in folders:
            await open_folder(ls, root)
        await watch_files(ls)
        primary = next(iter(ls.daemons.values()), None)
        if primary is not None and ls.mcp_enabled and primary.settings.serve.mcp:
            from trm_lsp.serve.mcp_server import start_mcp

            root = primary.root
            ls.mcp = await start_mcp(primary, ls.mcp_port, current=lambda: ls.daemons.get(root) or primary)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(ls: TrmLanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            root = lookup.uri_to_path(folder.uri)
            ls.unserved.pop(root, None)
            daemon = ls.daemons.pop(root, None) if root else None
            if daemon is not None:
                await daemon.stop()
        for folder in params.event.added:
            root = lookup.uri_to_path(folder.uri)
            if root is not None and root not in ls.daemons:
                await open_folder(ls, root)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(ls: TrmLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings.get(SECTION) if isinstance(params.settings, dict) else None
        options = settings if isinstance(settings, dict) else await client_configuration(ls)
        if options is None:
            return
        ls.options = options
        for daemon in list(ls.daemons.values()):
            await daemon.apply_settings(ls.settings_for(daemon.root, options))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: TrmLanguageServer, params: None) -> None:
        # Not awaited here: the protocol cancels the requests in flight (`TrmProtocol.lsp_shutdown`),
        # and an awaiting handler would let them finish under it. Stopping completes before `exit`.
        begin_stop(ls)

    @server.feature(types.EXIT)
    async def exit_(ls: TrmLanguageServer, params: None) -> None:
        """pygls exits the process after this: let the MCP server and the daemons finish first."""
        try:
            await asyncio.wait_for(stop_all(ls), EXIT_GRACE_SECONDS)
        except asyncio.TimeoutError:
            log.warning("stopping took more than %.0f s; exiting anyway", EXIT_GRACE_SECONDS)
        except asyncio.CancelledError:
            pass  # the stdio loop ended first (stdin closed, SIGTERM), after waiting for the same stop
        ls.protocol.exit_now()  # not pygls' exit, which waits for its stdin reader (rpc.exit_now)
