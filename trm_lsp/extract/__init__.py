"""Extraction: workspace files -> index items (code symbols, web/config sections, documents)."""
