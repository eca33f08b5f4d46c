"""Container images built in the tests: layers written with `tarfile`, manifests and indexes
as the OCI image spec writes them, stored as OCI layouts, docker archives, or pushed to a
registry through the distribution API (monolithic blob uploads, manifest PUT)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import pickle
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.helpers import safetensors_bytes

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        import os

        return os.system, ("echo pwned",)


def evil_pickle() -> bytes:
    return pickle.dumps({"weights": [1.0, 2.0], "hook": _Evil()}, protocol=4)


def weights(payload: bytes = b"\x00" * 16) -> bytes:
    return safetensors_bytes(payload)


def tar_layer(
    files: Mapping[str, bytes],
    *,
    whiteouts: tuple[str, ...] = (),
    opaque: tuple[str, ...] = (),
    compression: str = "gzip",
    directories: tuple[str, ...] = (),
) -> tuple[bytes, str, str]:
    """(blob, media type, diff id) of a layer holding `files` (path -> content)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in directories:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for path in whiteouts:
            parent, _, name = path.rpartition("/")
            info = tarfile.TarInfo(f"{parent}/.wh.{name}" if parent else f".wh.{name}")
            tar.addfile(info, io.BytesIO(b""))
        for d in opaque:
            info = tarfile.TarInfo(f"{d}/.wh..wh..opq")
            tar.addfile(info, io.BytesIO(b""))
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    if compression == "gzip":
        return gzip.compress(plain, mtime=0), LAYER_GZIP, digest_of(plain)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(plain), LAYER_ZSTD, digest_of(plain)
    return plain, LAYER_TAR, digest_of(plain)


@dataclass
class Image:
    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)
    media_type: str = OCI_MANIFEST
    children: list[Image] = field(default_factory=list)  # an index's images

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def image(
    layers: list[tuple[bytes, str, str]],
    *,
    labels: Mapping[str, str] | None = None,
    platform: tuple[str, str] = ("linux", "amd64"),
) -> Image:
    config = json.dumps(
        {
            "architecture": platform[1],
            "os": platform[0],
            "config": {"Labels": dict(labels or {})},
            "rootfs": {"type": "layers", "diff_ids": [d for _, _, d in layers]},
            "history": [{"created_by": "test"} for _ in layers],
        }
    ).encode()
    blobs = {digest_of(config): config}
    descriptors = []
    for blob, media_type, _ in layers:
        blobs[digest_of(blob)] = blob
        descriptors.append({"mediaType": media_type, "digest": digest_of(blob), "size": len(blob)})
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
            "layers": descriptors,
        }
    ).encode()
    return Image(manifest, blobs)


def index(images: list[tuple[Image, tuple[str, str]]]) -> Image:
    blobs: dict[str, bytes] = {}
    entries = []
    for img, (os_name, arch) in images:
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": img.digest,
                "size": len(img.manifest),
                "platform": {"os": os_name, "architecture": arch},
            }
        )
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    return Image(body, blobs, OCI_INDEX, [img for img, _ in images])


def cosign_signature(signed: Image, repository: str, private_key: Path) -> Image:
    """A cosign simple-signing signature manifest for `signed`, made with `private_key`."""
    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": signed.digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
    key = load_pem_private_key(private_key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    config = b"{}"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": 2},
            "layers": [
                {
                    "mediaType": SIMPLE_SIGNING,
                    "digest": digest_of(payload),
                    "size": len(payload),
                    "annotations": {"dev.cosignproject.cosign/signature": sig},
                }
            ],
        }
    ).encode()
    return Image(manifest, {digest_of(config): config, digest_of(payload): payload})


def signature_tag(signed: Image) -> str:
    return signed.digest.replace(":", "-") + ".sig"


def write_layout(root: Path, tagged: Mapping[str, Image]) -> Path:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = []
    for tag, img in tagged.items():
        for part in [img, *img.children]:
            for digest, data in {**part.blobs, part.digest: part.manifest}.items():
                (blobs / digest.split(":")[1]).write_bytes(data)
        entries.append(
            {
                "mediaType": img.media_type,
                "digest": img.digest,
                "size": len(img.manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        )
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    )
    return root


def write_docker_archive(path: Path, layers: list[bytes], tags: list[str]) -> Path:
    """What `docker save` writes (uncompressed layers under blobs/sha256/, manifest.json)."""
    diff_ids = [digest_of(layer) for layer in layers]
    config = json.dumps(
        {"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    members = {f"blobs/sha256/{digest_of(config)[7:]}": config}
    for layer in layers:
        members[f"blobs/sha256/{digest_of(layer)[7:]}"] = layer
    members["manifest.json"] = json.dumps(
        [
            {
                "Config": f"blobs/sha256/{digest_of(config)[7:]}",
                "RepoTags": tags,
                "Layers": [f"blobs/sha256/{d[7:]}" for d in diff_ids],
            }
        ]
    ).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


class _Pusher:
    """requests with the distribution token flow (the registry wants a bearer token)."""

    def __init__(self, auth: tuple[str, str] | None) -> None:
        self.session = requests.Session()
        self.auth = auth
        self.token: dict[str, str] = {}

    def request(self, method: str, url: str, scope: str, **kw: object) -> requests.Response:
        for _ in range(2):
            headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
            if scope in self.token:
                headers["Authorization"] = f"Bearer {self.token[scope]}"
            response = self.session.request(method, url, headers=headers, **kw)  # type: ignore[arg-type]
            kw["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            challenge = response.headers.get("WWW-Authenticate", "")
            if response.status_code != 401 or not challenge.startswith("Bearer"):
                return response
            params = dict(part.split("=", 1) for part in challenge[7:].split(","))
            params = {k: v.strip('"') for k, v in params.items()}
            got = self.session.get(
                params["realm"],
                params={"service": params["service"], "scope": scope},
                auth=self.auth,
            )
            self.token[scope] = got.json()["token"]
        return response


def push(
    base: str, repository: str, tag: str, img: Image, auth: tuple[str, str] | None = None
) -> None:
    """Blobs (monolithic upload), then the manifest: the distribution spec's push."""
    pusher = _Pusher(auth)
    scope = f"repository:{repository}:pull,push"
    for child in img.children:
        push(base, repository, child.digest, child, auth)
    for digest, data in img.blobs.items():
        head = pusher.request("HEAD", f"{base}/v2/{repository}/blobs/{digest}", scope)
        if head.status_code == 200:
            continue
        start = pusher.request("POST", f"{base}/v2/{repository}/blobs/uploads/", scope)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        if location.startswith("/"):
            location = base + location
        sep = "&" if "?" in location else "?"
        done = pusher.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            scope,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
    put = pusher.request(
        "PUT",
        f"{base}/v2/{repository}/manifests/{tag}",
        scope,
        data=img.manifest,
        headers={"Content-Type": img.media_type},
    )
    assert put.status_code == 201, put.text
