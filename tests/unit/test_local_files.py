"""`sources.local_files.discover`: the files a `logs:` or `access-logs:` target names, and the
one-line errors before anything is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.sources.interface import SourceError
from scanner.sources.local_files import discover


def find(target: Path | str, max_files: int = 10) -> list[str]:
    return discover(
        "demo:x",
        str(target),
        counts=lambda relative: relative.suffix == ".log" and "skip" not in relative.parts,
        none_in_directory="no .log file in the directory",
        max_files=max_files,
        limit=f"limit {max_files}",
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("b.log", "a.log", "notes.txt", "sub/c.log", "skip/d.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    return tmp_path


def test_a_directory_gives_the_files_that_count_sorted(tree: Path) -> None:
    assert find(tree) == [str(tree / "a.log"), str(tree / "b.log"), str(tree / "sub/c.log")]


def test_a_file_is_itself_whatever_its_name_and_a_glob_what_it_matches(tree: Path) -> None:
    assert find(tree / "notes.txt") == [str(tree / "notes.txt")]
    assert find(tree / "**" / "*.log") == sorted(
        str(tree / n) for n in ("a.log", "b.log", "sub/c.log", "skip/d.log")
    )


@pytest.mark.parametrize(
    ("target", "max_files", "message"),
    [
        ("missing", 10, "demo:x: no such file or directory"),
        ("*.nothing", 10, "demo:x: the pattern matches no file"),
        ("empty", 10, "demo:x: no .log file in the directory"),
        ("fifo", 10, "demo:x: not a regular file or directory"),
        (".", 2, "demo:x: 3 files, more than limit 2"),
    ],
)
def test_what_cannot_be_read_is_one_line(
    tree: Path, target: str, max_files: int, message: str
) -> None:
    (tree / "empty").mkdir()
    os.mkfifo(tree / "fifo")
    with pytest.raises(SourceError) as raised:
        find(tree / target, max_files)
    assert str(raised.value) == message
