"""The image's final filesystem, as far as model files go: layers applied in order, with
whiteouts, as the OCI image spec's "Applying changesets" says.

- A whiteout `.wh.NAME` in a layer deletes `NAME` (and everything below it) from the layers
  underneath; an opaque whiteout `.wh..wh..opq` in a directory deletes everything the lower
  layers put in it. Whiteouts never apply to entries of their own layer.
- An entry that is not a directory replaces whatever a lower layer had at its path (a file, a
  link, a whole directory tree); a directory replaces a lower non-directory.
Model files are tracked with what was kept of them; the other regular files by path, size and
small files' digests (`side`, what a model signature inside the image needs). A
model file removed this way is not in the running container, but its bytes still ship in the
image: anyone who can pull it can extract it from the earlier layer. That is reported, never
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scanner.sources.oci.capture import CapturedFile, SideFile
from scanner.sources.oci.layers import LayerRead


@dataclass(frozen=True)
class Removed:
    file: CapturedFile
    by_layer: str  # the digest of the layer that removed it
    how: str  # `whiteout`, `opaque whiteout`, `replaced`


class Filesystem:
    def __init__(self) -> None:
        self.live: dict[str, CapturedFile] = {}
        self.side: dict[str, SideFile] = {}
        self.removed: list[Removed] = []

    def apply(self, layer: LayerRead) -> None:
        for path in layer.whiteouts:
            self._remove(path, layer.digest, "whiteout", subtree=True)
        for directory in layer.opaque:
            self._remove_below(directory, layer.digest, "opaque whiteout")
        for path in layer.replaced:
            self._remove(path, layer.digest, "replaced", subtree=True)
        for path in layer.directories:
            self._remove(path, layer.digest, "replaced", subtree=False)
        for found in layer.files:
            self.live[found.path] = found
        for other in layer.side:
            self.side[other.path] = other
        for path, target in layer.hardlinks:
            if target in self.side:
                self.side[path] = replace(self.side[target], path=path)
            source = self.live.get(target)
            if source is not None:
                self.live[path] = CapturedFile(
                    path, source.size, source.layer, source.layer_index, source.read, source.kept
                )

    def _remove(self, path: str, by: str, how: str, subtree: bool) -> None:
        self.side.pop(path, None)
        found = self.live.pop(path, None)
        if found is not None:
            self.removed.append(Removed(found, by, how))
        if subtree:
            self._remove_below(path, by, how)

    def _remove_below(self, directory: str, by: str, how: str) -> None:
        prefix = f"{directory}/" if directory else ""
        for path in [p for p in self.side if p.startswith(prefix)]:
            del self.side[path]
        for path in [p for p in self.live if p.startswith(prefix)]:
            self.removed.append(Removed(self.live.pop(path), by, how))
