"""trm-lsp: a local code explainer served over LSP and MCP."""

__version__ = "0.1.0"
