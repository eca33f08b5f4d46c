"""Model artefacts in object stores, whichever provider holds them.

A provider implements `ObjectStoreReader` (`reader.py`: list a container's objects, read a
byte range of one, the digest the store keeps, the whole object) and names its `Container`;
`builder.py` does the rest the same way for every store: candidate model directories by name
(the `path:` source's grouping), content sniffing within `sniff_bytes`, digests, the
serialization summary, and the serialization scan within `integrity_max_bytes`
(`integrity.py`). S3 (`scanner.sources.aws.s3_reader`) and Cloud Storage
(`scanner.sources.gcs.reader`) implement it.
"""

from scanner.sources.objectstore.builder import (
    ObjectRead,
    StoreContents,
    build_artefact,
    build_artefacts,
    read_object,
)
from scanner.sources.objectstore.reader import (
    Container,
    Listing,
    ObjectReadError,
    ObjectStoreReader,
    StoredObject,
)

__all__ = [
    "Container",
    "Listing",
    "ObjectRead",
    "ObjectReadError",
    "ObjectStoreReader",
    "StoreContents",
    "StoredObject",
    "build_artefact",
    "build_artefacts",
    "read_object",
]
