"""Inference-log analysis: the `logs:` source (see docs/sources/logs.md)."""
