"""The pygls internals trm-lsp leans on (serve/rpc.py) still exist in the installed pygls: a
release that moves one fails here, by name, instead of as a hang in an editor."""

from __future__ import annotations

import inspect

from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol
from pygls.server import JsonRPCServer

from trm_lsp.serve.lsp import build_server
from trm_lsp.serve.rpc import PYGLS_INTERNALS, TrmProtocol


def test_every_private_pygls_name_we_use_is_still_there():
    server = build_server(mcp=False)
    assert isinstance(server.protocol, TrmProtocol)
    import pygls.protocol.language_server as language_server

    instances = {"JsonRPCProtocol": server.protocol, "JSONRPCServer": server,
                 "pygls.protocol.language_server": language_server, "LanguageServerProtocol": LanguageServerProtocol}
    for owner, names in PYGLS_INTERNALS.items():
        for name in names:
            assert hasattr(instances[owner], name), f"pygls {owner} no longer has {name}"


def test_the_methods_we_override_keep_their_signatures():
    for name, params in (("structure_message", ["self", "data"]), ("handle_message", ["self", "message"]),
                         ("_send_response", ["self", "msg_id", "result", "error"]),
                         ("_handle_response", ["self", "msg_id", "result", "error"])):
        assert list(inspect.signature(getattr(JsonRPCProtocol, name)).parameters) == params, name
    assert "protocol_cls" in inspect.signature(JsonRPCServer.__init__).parameters
    assert list(inspect.signature(LanguageServerProtocol.lsp_workspace__execute_command).parameters) == ["self", "params"]


def test_a_reply_to_a_request_we_stopped_waiting_for_is_dropped_quietly(caplog):
    """showDocument is waited on for 5 s; the editor's reply after that finds its future
    cancelled, which pygls would fail on (InvalidStateError, logged as an error)."""
    from concurrent.futures import Future

    protocol = build_server(mcp=False).protocol
    late, waiting = Future(), Future()
    late.cancel()
    protocol._request_futures.update({"late": late, "waiting": waiting})
    protocol._handle_response("late", {"success": True})
    protocol._handle_response("waiting", {"success": True})
    assert "late" not in protocol._request_futures and waiting.result() == {"success": True}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
