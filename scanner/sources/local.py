"""The `path:DIR` source: model files on a local disk, grouped into `artefact` resources.

What an artefact is on disk: a *model directory* (`scanner.sources.model_dirs`, the grouping
the object stores share) - one that directly holds a model file (by content, see
`scanner.artefacts.formats`), or holds an MLflow `MLmodel` or an OpenSSF `model.sig` - with every
regular file below it, except the files of a nested model directory, which is an artefact of its
own. MLmodel/model.sig directories are packaged models: they absorb their whole subtree (an
MLflow model's `data/` folder is part of it, not a second artefact). A root that is a single
file is one artefact of that file, whatever it holds: the user pointed at it.

Local artefacts carry no `storage` attribute: a local disk has none of the storage-level controls
the policies evaluate (public access, encryption settings, object lock, access logging), and
inventing values for them would be worse than leaving the reference out.

Symbolic links inside the tree are followed, because model trees are often assembled from links
(Hugging Face caches link snapshot files to blobs): a file link is read under its name; a link to
a directory inside the root is an alias for a directory walked at its real place, so skipping it
keeps ids stable and avoids listing the same files twice. A link that leads out of the scanned
tree is not followed unless the `follow_links` option says so: pointed at a model directory, the
scanner must not read, size or digest whatever a link names (`/etc/shadow`), and a model that
lives elsewhere is a problem to see, not a file to read silently. With `follow_links`, links out
of the root are followed, directories walked under the link's path. A link to an ancestor is a
loop and a problem. Nothing that is not a regular file is ever opened (a FIFO would block).

Resource ids are `file://` URIs of the absolute path as given (made absolute, not resolved through
links), which is what other tools such as MLflow record for local artefact locations.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from scanner.artefacts.formats import MODEL_EXTENSIONS, Sniffed, sniff
from scanner.artefacts.hashing import (
    NotRegularFileError,
    bounded_map,
    default_workers,
    sha256_file,
)
from scanner.artefacts.integrity import (
    ScanTarget,
    SniffedFile,
    add_integrity,
    scan_files,
    serialization_summary,
)
from scanner.artefacts.serialization import DEFAULT_MAX_DECOMPRESSED
from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.errors import UsageError
from scanner.inventory import Resource, Unknown
from scanner.sources.interface import Collection, Progress, SourceError, SourceSpec
from scanner.sources.model_dirs import group_model_dirs

SKIPPED_NAMES = frozenset({".git"})
# Work goes to the thread pool in batches: 64 files to sniff, or files adding up to 16 MiB to
# hash (each counted as at least 64 KiB), so small files do not pay a thread hand-off each.
_SNIFF_BATCH = 64
_HASH_BATCH_BYTES = 16 * 1024 * 1024
_MIN_HASH_COST = 64 * 1024
_KINDS = {
    stat.S_IFIFO: "named pipe",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


@dataclass
class _File:
    rel: str  # posix path relative to the source root
    path: str  # absolute path as walked (through links)
    size: int
    sniffed: Sniffed | None = None
    error: str | None = None  # why it could not be read
    sha256: str | Unknown | None = None

    @property
    def parent(self) -> str:
        return posixpath.dirname(self.rel)

    @property
    def candidate(self) -> bool:
        """Makes its directory a model directory. An unreadable file counts when its name says
        model: it may well be one, and hiding it would pass what should error."""
        if self.sniffed is not None:
            return self.sniffed.is_model
        return PurePath(self.rel).suffix.lower() in MODEL_EXTENSIONS

    @property
    def format(self) -> str | Unknown | None:
        if self.error is not None:
            return Unknown(self.error)
        assert self.sniffed is not None
        if self.sniffed.format is None and self.sniffed.problem is not None:
            return Unknown(self.sniffed.problem)
        return self.sniffed.format


class LocalPathSource:
    """Model files under a local directory (or one file). Read-only; never loads a model."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.workers = _workers_option(spec)
        self.follow_links = _follow_links_option(spec)
        self.max_bytes = _max_bytes_option(spec)
        # Trusted signers reach the source as the `trust` option, which config.py fills from
        # `integrity.trust` (already parsed, paths resolved): the Source interface stays spec-only.
        trust = spec.options.get("trust", TrustPolicy())
        if not isinstance(trust, TrustPolicy):
            raise UsageError(f"{spec.text}: trust must come from the config's integrity.trust")
        self.trust = trust

    def collect(self, progress: Progress) -> Collection:
        text = self.spec.text
        root = os.path.abspath(os.path.expanduser(self.spec.target))
        try:
            root_stat = os.stat(root)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                raise SourceError(f"no such file or directory: {root}") from e
            raise SourceError(f"cannot read {root}: {e.strerror}") from e
        problems: list[str] = []

        def problem(rel: str, reason: str) -> None:
            problems.append(f"{_one_line(rel or '.')}: {_one_line(reason)}")

        progress(f"{text}: reading {root}")
        single = stat.S_ISREG(root_stat.st_mode)
        if single:
            files = [_File(os.path.basename(root), root, root_stat.st_size)]
        elif stat.S_ISDIR(root_stat.st_mode):
            files = _Walker(root, text, problem, self.follow_links).walk(root_stat)
        else:
            raise SourceError(f"not a regular file or directory: {root}")

        self._sniff(files)
        if single and files[0].error is not None:
            raise SourceError(f"cannot read {root}: {files[0].error}")
        groups = {"": files} if single else group_model_dirs(files, _rel, lambda f: f.candidate)
        progress(f"{text}: {len(files)} files, {len(groups)} model artefact(s)")
        self._hash(groups, root, progress)

        for f in files:
            if f.error is not None:
                problem(f.rel, f.error)
            elif f.sniffed is not None and f.sniffed.problem is not None:
                problem(f.rel, f.sniffed.problem)
            if isinstance(f.sha256, Unknown) and f.error is None:
                problem(f.rel, f.sha256.reason)
        targets = {
            owner: [ScanTarget(_within(f.rel, owner), f.path, f.format) for f in members]
            for owner, members in groups.items()
        }
        scans = scan_files(targets, self.workers, self.max_bytes)
        progress(f"{text}: scanned {sum(map(len, scans.values()))} file(s) for unsafe content")
        resources = []
        for owner, members in groups.items():
            artefact = _artefact(self.spec, root, owner, members, single)
            names = (artefact.name, artefact.attributes["location"]["path"], artefact.id)
            trust = self.trust.for_model(*names)
            assert isinstance(artefact.attributes, dict)  # built just above, not yet shared
            add_integrity(artefact.attributes, targets[owner], scans[owner], trust)
            resources.append(artefact)
        return Collection(
            resources=tuple(sorted(resources, key=lambda r: r.id)),
            problems=tuple(sorted(set(problems))),
        )

    def _sniff(self, files: list[_File]) -> None:
        for f, result in bounded_map(
            lambda f: sniff(f.path), files, self.workers, batch_cost=_SNIFF_BATCH
        ):
            if isinstance(result, Sniffed):
                f.sniffed = result
            elif isinstance(result, OSError):
                f.error = _read_error(result)
            else:  # a sniffing bug must not hide the file: fail closed on it
                f.error = f"could not determine the format: {type(result).__name__}: {result}"

    def _hash(self, groups: dict[str, list[_File]], root: str, progress: Progress) -> None:
        """Hash every file of every artefact; progress once per completed artefact."""
        owner_of: dict[int, str] = {}
        remaining: dict[str, int] = {}
        todo: list[_File] = []
        for owner, members in groups.items():
            remaining[owner] = 0
            for f in members:
                if f.error is not None:
                    f.sha256 = Unknown(f.error)
                    continue
                owner_of[id(f)] = owner
                remaining[owner] += 1
                todo.append(f)

        def report(owner: str) -> None:
            members = groups[owner]
            size = sum(f.size for f in members)
            name = owner or os.path.basename(root) or root
            progress(f"{self.spec.text}: hashed {name} ({len(members)} files, {size} bytes)")

        for owner, count in sorted(remaining.items()):
            if count == 0:
                report(owner)
        for f, result in bounded_map(
            lambda f: sha256_file(f.path),
            todo,
            self.workers,
            cost=lambda f: max(f.size, _MIN_HASH_COST),
            batch_cost=_HASH_BATCH_BYTES,
        ):
            if isinstance(result, str):
                f.sha256 = result
            elif isinstance(result, OSError):
                f.sha256 = Unknown(_read_error(result))
            else:
                raise result
            owner = owner_of[id(f)]
            remaining[owner] -= 1
            if remaining[owner] == 0:
                report(owner)


class _Walker:
    """Depth-first, sorted, symlink-following walk with loop detection by (st_dev, st_ino)."""

    def __init__(
        self, root: str, text: str, problem: Callable[[str, str], None], follow_links: bool = False
    ) -> None:
        self.root = root
        self.root_real = os.path.realpath(root)
        self.follow_links = follow_links
        self.text = text
        self.problem = problem
        self.files: list[_File] = []
        self.visited: set[tuple[int, int]] = set()

    def walk(self, root_stat: os.stat_result) -> list[_File]:
        key = (root_stat.st_dev, root_stat.st_ino)
        self.visited.add(key)
        stack: list[tuple[str, str, str, frozenset[tuple[int, int]]]] = [
            (self.root, "", self.root_real, frozenset({key}))
        ]
        while stack:
            path, rel, real, ancestors = stack.pop()
            try:
                with os.scandir(path) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as e:
                if not rel:  # nothing at all can be read: the source fails as a whole
                    raise SourceError(f"cannot read {self.root}: {e.strerror}") from e
                self.problem(rel, f"cannot read directory: {e.strerror}")
                continue
            subdirs = []
            for entry in entries:
                if entry.name not in SKIPPED_NAMES:
                    sub = self._entry(entry, rel, real, ancestors)
                    if sub is not None:
                        subdirs.append(sub)
            stack.extend(reversed(subdirs))
        return self.files

    def _entry(
        self, entry: os.DirEntry[str], rel: str, real: str, ancestors: frozenset[tuple[int, int]]
    ) -> tuple[str, str, str, frozenset[tuple[int, int]]] | None:
        """Record a file, or return a directory to descend into."""
        child = f"{rel}/{entry.name}" if rel else entry.name
        is_link = entry.is_symlink()
        if (
            is_link
            and not self.follow_links
            and os.path.exists(entry.path)  # a dangling link is reported as one, below
            and not self._inside(entry.path)
        ):
            self.problem(
                child,
                f"symlink leaves the scanned tree -> {_readlink(entry.path)} "
                "(not followed; set the follow_links option to read it)",
            )
            return None
        try:
            st = os.stat(entry.path)  # follows links
        except OSError as e:
            if e.errno == errno.ELOOP:
                self.problem(child, f"symlink loop ({os.strerror(errno.ELOOP)})")
            elif is_link and e.errno in (errno.ENOENT, errno.ENOTDIR):
                self.problem(child, f"dangling symlink -> {_readlink(entry.path)}")
            else:
                self.problem(child, f"cannot read: {e.strerror}")
            return None
        if stat.S_ISREG(st.st_mode):
            self.files.append(_File(child, entry.path, st.st_size))
            return None
        if not stat.S_ISDIR(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "special file")
            self.problem(child, f"not a regular file, skipped ({kind})")
            return None
        key = (st.st_dev, st.st_ino)
        child_real = os.path.realpath(entry.path) if is_link else os.path.join(real, entry.name)
        if key in ancestors or (is_link and PurePath(real).is_relative_to(child_real)):
            if is_link:
                self.problem(
                    child,
                    f"symlink loop -> {_readlink(entry.path)} "
                    "(links to an ancestor directory; not followed)",
                )
            else:
                self.problem(child, "directory loop (a mount of an ancestor); not followed")
            return None
        if is_link and PurePath(child_real).is_relative_to(self.root_real):
            return None  # an alias: the directory is walked at its real place
        if key in self.visited:
            return None  # already walked through another link
        self.visited.add(key)
        return entry.path, child, child_real, ancestors | {key}

    def _inside(self, path: str) -> bool:
        """Whether a link resolves to a path inside the scanned tree (a dangling or looping
        link resolves inside or nowhere: the checks after this one report it)."""
        try:
            target = os.path.realpath(path, strict=False)
        except (OSError, ValueError):
            return False
        return PurePath(target).is_relative_to(self.root_real)


def _rel(f: _File) -> str:
    return f.rel


def _within(rel: str, owner: str) -> str:
    return rel[len(owner) + 1 :] if owner else rel


def _artefact(
    spec: SourceSpec, root: str, owner: str, members: list[_File], single: bool
) -> Resource:
    path = root if not owner else os.path.join(root, *owner.split("/"))
    uri = Path(path).as_uri()
    files = sorted(
        (
            {"path": _within(f.rel, owner), "size": f.size, "sha256": f.sha256, "format": f.format}
            for f in members
        ),
        key=lambda entry: str(entry["path"]),
    )
    serialization = serialization_summary(
        SniffedFile(
            _within(f.rel, owner), f.format, f.sniffed is not None and f.sniffed.pickle_based
        )
        for f in members
    )
    total = sum(f.size for f in members)
    return Resource(
        id=uri,
        type="artefact",
        name=owner or os.path.basename(root) or root,
        source=spec.name,
        attributes={
            "uri": uri,
            "location": {"provider": "local", "path": path},
            "files": files,
            # DESIGN's `serialization` block; the integrity checks add `unsafe` beside these.
            "serialization": serialization,
            "file_count": len(files),
            "total_size": total,
        },
        raw={
            "root": root,
            "path": path,
            "single_file": single,
            "file_count": len(files),
            "model_file_count": sum(1 for f in members if f.candidate),
            "total_size": total,
        },
    )


def _max_bytes_option(spec: SourceSpec) -> int:
    value = spec.options.get("integrity_max_bytes", DEFAULT_MAX_DECOMPRESSED)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(
            f"{spec.text}: integrity_max_bytes must be a positive integer, got {value!r}"
        )
    return value


def _follow_links_option(spec: SourceSpec) -> bool:
    value = spec.options.get("follow_links", False)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise UsageError(f"{spec.text}: follow_links must be true or false, got {value!r}")
    return value


def _workers_option(spec: SourceSpec) -> int:
    value = spec.options.get("hash_workers")
    if value is None:
        return default_workers()
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{spec.text}: hash_workers must be a positive integer, got {value!r}")
    return value


def _read_error(e: OSError) -> str:
    if isinstance(e, NotRegularFileError):  # replaced by a FIFO or the like after the walk
        return "not a regular file, skipped"
    return f"cannot read file: {e.strerror or e}"


def _one_line(text: str) -> str:
    """File names may hold newlines or undecodable bytes; a problem must stay one clear line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"
