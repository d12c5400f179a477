"""The daemon: the answer engine behind LSP hover and code lens and the MCP tools."""
