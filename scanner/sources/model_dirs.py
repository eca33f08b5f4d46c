"""What a model directory is, for every source that finds models among files or objects.

A *model directory* directly holds a model file (by content once sniffed, by name before), or
holds an MLflow `MLmodel` or an OpenSSF `model.sig` marker (except a `model.sig` beside a
`model/` directory: that is the directory's signature, as MLflow runs log it). Its artefact is
every file below it except the files of a nested model directory, which is an artefact of its
own; a marker directory is a packaged model and absorbs its whole subtree (an MLflow model's
`data/` folder is part of it, not a second artefact). The `path:` source and the object stores
(`scanner.sources.objectstore`) group with this one function, so the same tree gives the same
artefacts on a disk and in a bucket.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import TypeVar

from scanner.artefacts.formats import MODEL_EXTENSIONS, SAVEDMODEL_NAMES

MARKER_FILES = frozenset({"MLmodel", "model.sig"})

T = TypeVar("T")


def named_like_model(name: str) -> bool:
    """A model file or marker by its name alone (the call-free first narrowing of a store)."""
    return (
        PurePosixPath(name).suffix.lower() in MODEL_EXTENSIONS
        or name in SAVEDMODEL_NAMES
        or name in MARKER_FILES
    )


def _sibling_signature(marker: str, items: list[tuple[T, str, str]]) -> bool:
    """`D/model.sig` beside a directory `D/model/` is that directory's signature (an MLflow run
    that logged `model/` and then `model.sig`), not a marker making `D` a packaged model."""
    if posixpath.basename(marker) != "model.sig":
        return False
    inside = marker[: -len(".sig")] + "/"
    return any(p.startswith(inside) for _, _, p in items)


def group_model_dirs(
    files: Iterable[T], path: Callable[[T], str], candidate: Callable[[T], bool]
) -> dict[str, list[T]]:
    """Files by the model directory whose artefact they are in (posix, relative to the root;
    `""` is the root itself). `path` gives a file's relative path, `candidate` whether the file
    makes its directory a model directory. Files in no model directory are left out."""
    # The parent is what precedes the last `/`: object keys may hold `//` or end in `/`, and a
    # key's directory is then what the store shows (`a//b` is in `a/`), not a normalised path.
    items = [(f, path(f).rpartition("/")[0], path(f)) for f in files]
    markers = {
        d
        for _, d, p in items
        if posixpath.basename(p) in MARKER_FILES and not _sibling_signature(p, items)
    }
    model_dirs = {
        d for f, d, p in items if candidate(f) and not _sibling_signature(p, items)
    } | markers
    owners: dict[str, str | None] = {}
    groups: dict[str, list[T]] = defaultdict(list)
    for f, d, _ in items:
        if d not in owners:
            chain = [d]
            while chain[-1]:
                chain.append(posixpath.dirname(chain[-1]))
            outermost_marker = next((a for a in reversed(chain) if a in markers), None)
            owners[d] = (
                outermost_marker
                if outermost_marker is not None
                else next((a for a in chain if a in model_dirs), None)
            )
        owner = owners[d]
        if owner is not None:
            groups[owner].append(f)
    return dict(groups)
