"""The `trm-lsp` command: a registry of subcommands, imported lazily so that `trm-lsp index`
does not pay for MLX or pygls, and one place that turns errors into exit codes
(0 success, 2 bad usage, 1 failure with a one-line reason on stderr)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from trm_lsp import __version__
from trm_lsp.interpreter import die_with_starter, protect_children

#: name -> (module under trm_lsp.commands, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "index": ("index", "scan and extract a workspace into its index"),
    "distill": ("distill", "ask the teacher about every symbol that has no answer for its current text"),
    "export": ("export", "write the teacher samples as JSONL"),
    "import": ("importer", "load recorded teacher answers into a workspace"),
    "publish": ("publish", "write the teacher answers as immutable objects for a static server, bucket or folder"),
    "train": ("train", "train the student (a Tiny Recursive Model) on teacher samples"),
    "eval": ("evaluate", "train on one sample set, score the student and baselines on another"),
    "pretrain": ("pretrain", "pretrain the base student on (code, doc comment) pairs from installed sources"),
    "explain": ("explain", "print the explanation of one symbol and where it came from"),
    "serve": ("serve", "the daemon: LSP on stdio or TCP, MCP over HTTP on 127.0.0.1"),
    "mcp": ("mcp_bridge", "MCP over stdio, bridged to the workspace's running daemon"),
    "demo": ("demo", "the whole pipeline on data/logic_lab, ending in a table of answers"),
}


class UsageError(Exception):
    """Bad usage: exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trm-lsp", description="A local code explainer over LSP and MCP.")
    parser.add_argument("--version", action="version", version=f"trm-lsp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, summary) in COMMANDS.items():
        command = sub.add_parser(name, help=summary, description=summary)
        importlib.import_module(f"trm_lsp.commands.{module}").add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def own_records(record: logging.LogRecord) -> bool:
    """A log filter. Libraries log every call at DEBUG/INFO, and some (bm25s) reset their level
    on import: below WARNING, only trm-lsp's own records pass."""
    return record.levelno >= logging.WARNING or record.name.startswith("trm_lsp")


def main(argv: list[str] | None = None) -> int:
    die_with_starter()  # started by a daemon or an index run: a kill -9 of it takes us too
    protect_children()  # no Python child of ours imports from the workspace (trm_lsp.interpreter)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="trm-lsp: %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(own_records)
    module = importlib.import_module(f"trm_lsp.commands.{args._module}")
    try:
        return int(module.run(args) or 0)
    except UsageError as exc:
        parser.error(str(exc))  # exits 2
    except KeyboardInterrupt:
        print("trm-lsp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the one place failures become a one-line reason
        if args.verbose:
            logging.exception("failed")
        print(f"trm-lsp: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
