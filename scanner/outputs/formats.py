"""The names of the output formats, for `--help` and for checking a format list.

Kept apart from `scanner.outputs.registry`, which imports every writer (Jinja2, the SARIF and
BOM builders): the command line lists the formats in its help without loading any of them.
The registry's writers are keyed by exactly these names (a unit test holds them together).
"""

from __future__ import annotations

FORMATS = ("json", "html", "md", "csv", "sarif", "junit", "cyclonedx", "spdx")
