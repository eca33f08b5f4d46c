"""Extraction-detection evaluation of the logs source (see docs/sources/logs.md)."""
