"""The editor configurations in editors/ say what the server actually reads."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from trm_lsp.config import Settings
from trm_lsp.serve.lsp import CLIENT_KEYS

REPO = Path(__file__).resolve().parents[1]
EDITORS = REPO / "editors"


def test_vscode_contributes_exactly_the_settings_the_server_reads():
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "vscode_settings.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    package = json.loads((EDITORS / "vscode" / "package.json").read_text())
    nested: dict = {}
    for key, spec in package["contributes"]["configuration"]["properties"].items():
        parts = key.split(".")[1:]
        if parts[0] in CLIENT_KEYS:
            continue
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = spec["default"]
    # What VS Code sends for the `trm-lsp` section with nothing changed: the server's defaults.
    assert Settings.from_dict(nested) == Settings()


def test_vscode_extension_registers_its_mcp_provider_and_starts_the_server_over_stdio():
    package = json.loads((EDITORS / "vscode" / "package.json").read_text())
    source = (EDITORS / "vscode" / "src" / "extension.ts").read_text()
    (provider,) = package["contributes"]["mcpServerDefinitionProviders"]
    assert f'registerMcpServerDefinitionProvider("{provider["id"]}"' in source
    assert package["contributes"]["configuration"]["properties"]["trm-lsp.serverCommand"]["default"] == [
        "trm-lsp", "serve", "--stdio"]
    assert "vscode-languageclient" in package["dependencies"]


def test_helix_emacs_and_mcp_configs_start_the_real_commands():
    helix = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = helix["language-server"]["trm-lsp"]
    assert [server["command"], *server["args"]] == ["trm-lsp", "serve", "--stdio"]
    Settings.from_dict(server["config"])  # the same keys as trm-lsp.toml
    assert all("trm-lsp" in lang["language-servers"] for lang in helix["language"])
    assert '"trm-lsp" "serve" "--stdio"' in (EDITORS / "emacs" / "trm-lsp.el").read_text()
    vscode_mcp = json.loads((EDITORS / "mcp" / "vscode-mcp.json").read_text())
    assert vscode_mcp["servers"]["trm-lsp"] == {"type": "http", "url": "http://127.0.0.1:8765/mcp"}
    stdio = json.loads((EDITORS / "mcp" / "mcpServers.json").read_text())["mcpServers"]["trm-lsp"]
    assert [stdio["command"], *stdio["args"]][:2] == ["trm-lsp", "mcp"]
