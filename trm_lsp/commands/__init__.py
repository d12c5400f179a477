"""One module per `trm-lsp` subcommand: `add_arguments(parser)` and `run(args) -> int`."""
