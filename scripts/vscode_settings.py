"""Write the VS Code extension's settings (package.json `contributes.configuration`) from
trm_lsp/config.py, so the editor offers exactly the settings the server reads, with the same
defaults and descriptions. `--check` exits 1 when package.json is out of date (a test runs it).

    python scripts/vscode_settings.py [--check]
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PACKAGE = REPO / "editors" / "vscode" / "package.json"

#: Settings of the extension itself, not of the server.
CLIENT_SETTINGS = {
    "trm-lsp.serverCommand": {"type": "array", "items": {"type": "string"}, "default": ["trm-lsp", "serve", "--stdio"],
                              "description": "The command that starts the language server."},
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _descriptions(cls: type) -> dict[str, str]:
    """The `#:` comment above each field of a settings dataclass."""
    out, pending = {}, []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+): .*=", stripped)
        if match:
            out[match.group(1)] = " ".join(pending)
        pending = []
    return out


def properties() -> dict:
    from trm_lsp.config import TABLE_LISTS, Settings

    out = dict(CLIENT_SETTINGS)
    root = Settings()
    for section in dataclasses.fields(Settings):
        group = getattr(root, section.name)
        notes = _descriptions(type(group))
        for field in dataclasses.fields(group):
            value = getattr(group, field.name)
            kind = ("boolean" if isinstance(value, bool) else "integer" if isinstance(value, int) else
                    "number" if isinstance(value, float) else "array" if isinstance(value, list) else "string")
            spec = {"type": kind, "default": value, "description": notes.get(field.name, "")}
            if kind == "array":  # `teacher.hosts` also takes `{url, concurrency, backend}` tables
                spec["items"] = {"type": ["string", "object"]} if field.name in TABLE_LISTS else {"type": "string"}
            if kind in ("integer", "number"):
                spec["minimum"] = 0
            if section.name == "teacher" and field.name == "backend":
                spec["enum"] = ["ollama", "openai"]
            out[f"trm-lsp.{section.name}.{_camel(field.name)}"] = spec
    return out


def main() -> int:
    package = json.loads(PACKAGE.read_text(encoding="utf-8"))
    wanted = properties()
    current = package.setdefault("contributes", {}).setdefault("configuration", {}).get("properties")
    if "--check" in sys.argv:
        if current != wanted:
            missing = sorted(set(wanted) - set(current or {}))
            print(f"{PACKAGE} settings are out of date (missing: {missing}); run scripts/vscode_settings.py",
                  file=sys.stderr)
            return 1
        return 0
    package["contributes"]["configuration"] = {"title": "trm-lsp", "properties": wanted}
    PACKAGE.write_text(json.dumps(package, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
