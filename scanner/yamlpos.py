"""Safe YAML loading that remembers where every value came from.

Users fix files by line number, so every error about a policy, config, attestation or fixture
file is reported as ``FILE:LINE:COL: message``. PyYAML's composer gives node marks but
``safe_load`` throws them away, so we compose the node tree with ``SafeLoader`` (no arbitrary
object construction), construct plain data from it, and keep a map from the JSON path of each
value to its position. The walk is bounded: alias expansion ("billion laughs") and oversized
files are refused instead of exhausting memory or time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import InputFileError

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 100
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class LoadedYaml:
    """A parsed document plus the position of every value in it."""

    path: str
    data: Any
    positions: dict[JsonPath, Position] = field(default_factory=dict)

    def where(self, json_path: Iterable[str | int]) -> Position:
        """Position of the deepest known prefix of ``json_path`` (1:1 if none)."""
        parts = tuple(json_path)
        while parts:
            if parts in self.positions:
                return self.positions[parts]
            parts = parts[:-1]
        return self.positions.get((), Position(1, 1))

    def error_line(self, json_path: Iterable[str | int], message: str) -> str:
        pos = self.where(json_path)
        return f"{self.path}:{pos.line}:{pos.column}: {message}"


def dates_to_text(value: Any) -> Any:
    """YAML turns `2025-03-01` into a date; files whose schema speaks JSON want the ISO text."""
    if isinstance(value, dict):
        return {key: dates_to_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [dates_to_text(item) for item in value]
    if isinstance(value, dt.date):  # datetime included
        return value.isoformat()
    return value


def display_path(path: str | os.PathLike[str]) -> str:
    """The path as the user would recognise it: relative to the cwd when it is below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def read_text(path: str | os.PathLike[str], *, what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a small UTF-8 text file, turning every OS error into one clear line."""
    shown = display_path(path)
    try:
        with open(path, "rb") as fh:
            blob = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputFileError(f"{shown}: {what} not found") from None
    except IsADirectoryError:
        raise InputFileError(f"{shown}: {what} is a directory, expected a file") from None
    except PermissionError:
        raise InputFileError(f"{shown}: {what} is not readable (permission denied)") from None
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot read {what}: {exc.strerror or exc}") from None
    if len(blob) > max_bytes:
        raise InputFileError(
            f"{shown}: {what} is larger than {max_bytes} bytes; refusing to parse it"
        )
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{shown}: {what} is not UTF-8 text (byte {exc.start})") from None


def load_yaml_file(
    path: str | os.PathLike[str], *, what: str = "file", max_bytes: int = MAX_FILE_BYTES
) -> LoadedYaml:
    return load_yaml_text(read_text(path, what=what, max_bytes=max_bytes), display_path(path))


def load_yaml_text(text: str, shown_path: str) -> LoadedYaml:
    try:
        _check_depth(text, shown_path)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise InputFileError(f"{shown_path}:1:1: YAML nested too deeply to read") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputFileError(f"{shown_path}:{line}:{col}: YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        # The reader reports a character offset, not a mark: turn it into line and column.
        lines = _LINE_BREAKS.split(text[: exc.position])
        line, col = len(lines), len(lines[-1]) + 1
        raise InputFileError(
            f"{shown_path}:{line}:{col}: YAML syntax error: unacceptable character "
            f"#x{exc.character:04x}: {exc.reason}"
            if isinstance(exc.character, int)
            else f"{shown_path}:{line}:{col}: YAML syntax error: {exc.reason}"
        ) from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"{shown_path}:1:1: YAML syntax error: {exc}") from None
    loaded = LoadedYaml(path=shown_path, data=None)
    if node is None:
        return loaded
    builder = _Builder(shown_path, loaded.positions)
    loaded.data = builder.build(node, ())
    return loaded


def _check_depth(text: str, shown_path: str) -> None:
    """Refuse hostile nesting before the pure-Python composer sees it (it is quadratic there:
    14 KB of nested brackets took 1.5 s). libyaml's event stream measures depth in linear time;
    its other errors are left to the Python parser, whose messages name the character."""
    cparser = getattr(yaml, "CSafeLoader", None)
    if cparser is None:
        return
    depth = 0
    try:
        for event in yaml.parse(text, Loader=cparser):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    m = event.start_mark
                    where = f"{m.line + 1}:{m.column + 1}" if m is not None else "1:1"
                    raise InputFileError(
                        f"{shown_path}:{where}: nesting deeper than {MAX_DEPTH} levels"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem):
            mark = exc.problem_mark
            where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
            raise InputFileError(
                f"{shown_path}:{where}: nesting deeper than {MAX_DEPTH} levels"
            ) from None
    except yaml.YAMLError:
        pass  # reported, better worded, by the Python parser next


class _Builder:
    """Turns a composed node tree into plain data, recording positions; refuses duplicate keys."""

    def __init__(self, shown_path: str, positions: dict[JsonPath, Position]) -> None:
        self.shown_path = shown_path
        self.positions = positions
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        self.own: dict[int, set[int]] = {}

    def fail(self, node: yaml.Node, message: str) -> InputFileError:
        m = node.start_mark
        return InputFileError(f"{self.shown_path}:{m.line + 1}:{m.column + 1}: {message}")

    def scalar(self, node: yaml.Node, where: Position, label: str) -> Any:
        """Construct one scalar (a value or a key), turning PyYAML's failures into our error."""
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise self.fail(node, f"cannot read value: {exc.problem}") from None
        except Exception as exc:
            # E.g. an unquoted impossible date (2025-13-01) raises a bare ValueError, `!!int ''`
            # an IndexError. Point at the key that holds it, which is what the user looks for.
            noun = "date" if node.tag == "tag:yaml.org,2002:timestamp" else "value"
            raise InputFileError(
                f"{self.shown_path}:{where.line}:{where.column}: {label}{node.value!r} is not a "
                f"valid {noun} ({exc})"
            ) from None

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"document expands to more than {MAX_NODES} values (alias bomb?)")
        if len(path) > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.positions.setdefault(
            path, Position(node.start_mark.line + 1, node.start_mark.column + 1)
        )
        if isinstance(node, yaml.MappingNode):
            # Keys written here may override keys merged in with `<<: *anchor`; only two keys
            # written here with the same name are a duplicate.
            # flatten_mapping rewrites the node in place, and an aliased mapping is visited
            # again: remember which keys were written in it on the first visit.
            own = self.own.get(id(node))
            if own is None:
                own = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
                self.own[id(node)] = own
                try:
                    self.constructor.flatten_mapping(node)
                except yaml.constructor.ConstructorError as exc:
                    raise self.fail(node, f"bad merge key: {exc.problem}") from None
            out: dict[str, Any] = {}
            written: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "mapping keys must be plain scalars")
                key_pos = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                key = self.scalar(key_node, key_pos, "key ")
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise self.fail(key_node, "mapping keys must be plain scalars")
                key = str(key) if not isinstance(key, str) else key
                if key in written and id(key_node) in own:
                    raise self.fail(key_node, f"duplicate key '{key}'")
                if id(key_node) in own:
                    written.add(key)
                self.positions[(*path, key)] = Position(
                    key_node.start_mark.line + 1, key_node.start_mark.column + 1
                )
                out[key] = self.build(value_node, (*path, key))
                # The key's own position is more useful than the value's for "key X: ..." errors,
                # so keep the key position for the path and only fall back to the value's.
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        key = f"{path[-1]}: " if path and isinstance(path[-1], str) else ""
        return self.scalar(node, self.positions[path], key)
