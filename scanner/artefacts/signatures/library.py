"""Verification through the model-signing library, with modelward's decisions on top.

One trust entry at a time: a public key, a certificate chain (always the configured one, never
the system's web-PKI roots) or a Sigstore identity with a pinned trust root (offline). The
library checks the signature, re-hashes the model and compares it with the signed manifest.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.bundle import certificate_names, statement
from scanner.artefacts.signatures.trust import ChainTrust, IdentityTrust, KeyTrust

Trust = KeyTrust | ChainTrust | IdentityTrust
_STDOUT_LOCK = threading.Lock()


def verify_one(
    model: Path,
    signature: Path,
    entry: KeyTrust | ChainTrust | IdentityTrust,
    bundle: dict[str, Any],
) -> str | None:
    """None when `entry` verifies the signature and the files match; else why not."""
    from model_signing import hashing, verifying  # lazy: pulls in sigstore and OpenSSL

    try:
        with trust_config_file(entry) as trust_root:
            config = verifying.Config()  # type: ignore[no-untyped-call]  # model-signing's own API is untyped
            if isinstance(entry, KeyTrust):
                config.use_elliptic_key_verifier(public_key=entry.path)
            elif isinstance(entry, ChainTrust):
                config.use_certificate_verifier(certificate_chain=[entry.path])
            else:
                config.use_sigstore_verifier(
                    identity=entry.identity, oidc_issuer=entry.issuer, trust_config=trust_root
                )
            config.set_hashing_config(_hashing_config(hashing, bundle, model, signature))
            # The library prints a warning to stdout for old-format key bundles; stdout is for
            # our results. redirect_stdout swaps a process-wide object, so it is serialised:
            # two sources verifying at once would otherwise restore each other's buffer.
            with _STDOUT_LOCK, contextlib.redirect_stdout(io.StringIO()):
                config.verify(model, signature)
    except Exception as e:  # the library raises ValueError, OpenSSL and sigstore errors alike
        return _describe(entry, e)
    if isinstance(entry, ChainTrust) and entry.identity is not None:
        names = certificate_names(bundle)
        if entry.identity not in names:
            return (
                f"signed by {', '.join(names) or 'an unnamed certificate'}, "
                f"not by the trusted identity {entry.identity}"
            )
    return None


def _hashing_config(hashing: Any, bundle: dict[str, Any], model: Path, signature: Path) -> Any:
    """The signer's hashing settings (from the statement, checked later by the signature),
    plus the signature file itself as an ignored path when it lives inside the model."""
    serialization = statement(bundle["dsseEnvelope"]).get("predicate", {}).get("serialization")
    if not isinstance(serialization, dict):
        raise ValueError("the signed statement has no serialization settings")
    method = serialization.get("method")
    ignore = [Path(p) for p in serialization.get("ignore_paths", []) or []]
    common = {
        "hashing_algorithm": serialization.get("hash_type", "sha256"),
        "allow_symlinks": bool(serialization.get("allow_symlinks", False)),
        "ignore_paths": ignore,
    }
    if method == "files":
        config = hashing.Config().use_file_serialization(**common)
    elif method == "shards":
        config = hashing.Config().use_shard_serialization(
            shard_size=serialization["shard_size"], **common
        )
    else:
        raise ValueError(f"unsupported serialization method {method!r}")
    if model.is_dir():
        try:
            inside = signature.resolve().relative_to(model.resolve())
        except ValueError:
            inside = None
        if inside is not None:
            config.set_ignored_paths(paths=[*ignore, inside])
    return config


def _describe(entry: KeyTrust | ChainTrust | IdentityTrust, e: Exception) -> str:
    text = str(e) or type(e).__name__
    if text.startswith("Signature mismatch"):
        return f"files do not match the signature: {_mismatch(text)}"
    return describe_failure(entry, e)


def describe_failure(entry: KeyTrust | ChainTrust | IdentityTrust, e: Exception) -> str:
    """Why `entry` did not verify a signature, in one line."""
    text = str(e) or type(e).__name__
    if isinstance(entry, KeyTrust):
        return f"not signed by the trusted key {entry.path.name}: {type(e).__name__} {text}"
    if isinstance(entry, ChainTrust):
        return f"certificate not trusted by {entry.path.name}: {type(e).__name__} {text}"
    return f"not signed by {entry.identity} ({entry.issuer}): {type(e).__name__} {text}"


def _mismatch(text: str) -> str:
    """The library's diff (the repr of a list of sentences) as changed/added/removed."""
    try:
        diffs = ast.literal_eval(text.partition(":")[2].strip())
    except (ValueError, SyntaxError):
        return text
    if not isinstance(diffs, list):
        return text
    found: dict[str, list[str]] = {"changed": [], "added": [], "removed": []}
    for line in map(str, diffs):
        if line.startswith("Hash mismatch for '"):
            found["changed"].append(line[len("Hash mismatch for '") :].partition("': ")[0])
        elif line.startswith("Extra files found in model"):
            found["added"].extend(n.strip() for n in line.partition("': ")[2].split(","))
        elif line.startswith("Missing files in model"):
            found["removed"].extend(n.strip() for n in line.partition("': ")[2].split(","))
    parts = [f"{label}: {', '.join(names)}" for label, names in found.items() if names]
    return "; ".join(parts) or text


@contextlib.contextmanager
def trust_config_file(entry: KeyTrust | ChainTrust | IdentityTrust) -> Iterator[Path | None]:
    """model-signing takes a Sigstore *client trust config*; people keep a trusted_root.json.
    A bare trusted root is wrapped in a client trust config (with an empty signing config,
    which verification never reads) in a temporary file."""
    if not isinstance(entry, IdentityTrust):
        yield None
        return
    doc = json.loads(entry.trust_root.read_text(encoding="utf-8"))
    if "trustedRoot" in doc:
        yield entry.trust_root
        return
    wrapped = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": doc,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [],
            "oidcUrls": [],
            "rekorTlogUrls": [],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }
    fd, name = tempfile.mkstemp(suffix=".json", prefix="modelward-trust-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(wrapped, f)
        yield Path(name)
    finally:
        os.unlink(name)


def identity_of(entry: KeyTrust | ChainTrust | IdentityTrust, bundle: dict[str, Any]) -> str:
    if isinstance(entry, KeyTrust):
        return f"key {entry.path.name} ({_key_fingerprint(entry.path)})"
    if isinstance(entry, ChainTrust):
        names = certificate_names(bundle)
        return names[0] if names else f"certificate chained to {entry.path.name}"
    return f"{entry.identity} ({entry.issuer})"


def _key_fingerprint(path: Path) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(path.read_bytes())
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(pem).hexdigest()[:16]
