"""What a signature vouches for, checked apart from the files it covers.

A signature (a Sigstore bundle, or a bare DSSE envelope) signs an in-toto statement; the
statement names the files and their digests. Checking it is two questions:
1. is the statement authentic: signed by a trusted key, certificate chain or Sigstore identity?
2. do the files have the digests the statement lists?

model-signing's public API answers both in one call over a local directory, which re-reads
every file. A model in an object store should not be downloaded to answer question 1, and
question 2 can often be answered without downloading at all (a digest the store keeps, or one
computed while the file streamed past for the serialization scan). So this module answers
question 1 only, with the library's own verifiers (`model_signing._signing`: the classes its
`verifying.Config` is built from; the library is pinned below 2 in pyproject.toml), and
returns the authentic statement; `scanner.artefacts.signatures.match` answers question 2.

Bare DSSE envelopes (an in-toto `.intoto.jsonl`, as SLSA generators write them) carry no
verification material: they are verified against the trusted keys with securesystemslib's DSSE
implementation (the one the in-toto framework uses), never by hand.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.library import (
    Trust,
    describe_failure,
    identity_of,
    trust_config_file,
)
from scanner.artefacts.signatures.trust import ChainTrust, KeyTrust

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")
_STDOUT_LOCK = threading.Lock()


class ContentError(ValueError):
    """The signature does not verify with a trust entry; the message says why, in one line."""


@dataclass(frozen=True)
class SignedStatement:
    """An in-toto statement whose signature verified, and who signed it."""

    statement: dict[str, Any]
    identity: str

    @property
    def predicate_type(self) -> str:
        return str(self.statement.get("predicateType", ""))


def verify_bundle(signature: Path, bundle: dict[str, Any], entry: Trust) -> SignedStatement:
    """The statement of a Sigstore bundle (`dsseEnvelope`), verified with one trust entry.

    Raises ContentError when the entry does not verify it (wrong key, untrusted chain, another
    identity or issuer, a broken log entry) or the payload is not an in-toto statement.
    """
    from model_signing._signing import (
        sign_certificate,
        sign_ec_key,
        sign_sigstore,
        sign_sigstore_pb,
    )

    try:
        with trust_config_file(entry) as trust_root:
            verifier: Any
            if isinstance(entry, KeyTrust):
                verifier = sign_ec_key.Verifier(entry.path)
                parsed: Any = sign_sigstore_pb.Signature.read(signature)
            elif isinstance(entry, ChainTrust):
                verifier = sign_certificate.Verifier([entry.path])
                parsed = sign_sigstore_pb.Signature.read(signature)
            else:
                verifier = sign_sigstore.Verifier(
                    identity=entry.identity, oidc_issuer=entry.issuer, trust_config=trust_root
                )
                parsed = sign_sigstore.Signature.read(signature)
            # The library prints a warning to stdout for old-format key bundles; stdout is for
            # our results, and redirect_stdout swaps a process-wide object, so it is serialised.
            with _STDOUT_LOCK, contextlib.redirect_stdout(io.StringIO()):
                payload_type, payload = verifier._verify_signed_content(parsed)
    except ContentError:
        raise
    except Exception as e:  # the library raises ValueError, OpenSSL and sigstore errors alike
        raise ContentError(describe_failure(entry, e)) from e
    statement = _statement(payload_type, payload)
    if isinstance(entry, ChainTrust) and entry.identity is not None:
        from scanner.artefacts.signatures.bundle import certificate_names

        names = certificate_names(bundle)
        if entry.identity not in names:
            raise ContentError(
                f"signed by {', '.join(names) or 'an unnamed certificate'}, "
                f"not by the trusted identity {entry.identity}"
            )
    return SignedStatement(statement, identity_of(entry, bundle))


def verify_envelope(envelope: dict[str, Any], keys: tuple[KeyTrust, ...]) -> SignedStatement:
    """The statement of a bare DSSE envelope, verified by any one of the trusted keys."""
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import Signature, SSlibKey

    if not keys:
        raise ContentError(
            "a bare DSSE envelope carries no certificate: it needs a trusted public key "
            "(integrity.trust.keys or --key)"
        )
    try:
        parsed = Envelope.from_dict(copy.deepcopy(envelope))  # from_dict edits its argument
    except Exception as e:  # KeyError, TypeError, binascii.Error on a malformed envelope
        raise ContentError(f"not a DSSE envelope: {type(e).__name__} {e}") from e
    failures = []
    for entry in keys:
        public = serialization.load_pem_public_key(entry.path.read_bytes())
        key = SSlibKey.from_crypto(public)
        # A signature's keyid is an unauthenticated hint (and optional in DSSE), while
        # securesystemslib only tries keys whose id equals it: each signature is tried under
        # this key's id instead.
        for sig in parsed.signatures.values():
            single = Envelope(
                parsed.payload,
                parsed.payload_type,
                {key.keyid: Signature(key.keyid, sig.signature)},
            )
            try:
                single.verify([key], 1)
            except Exception:  # securesystemslib's VerificationError, unsupported keys
                continue
            statement = _statement(parsed.payload_type, parsed.payload)
            return SignedStatement(statement, identity_of(entry, {}))
        failures.append(f"not signed by the trusted key {entry.path.name}")
    raise ContentError("; ".join(failures))


def _statement(payload_type: str, payload: bytes) -> dict[str, Any]:
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise ContentError(f"the signed payload is {payload_type!r}, not an in-toto statement")
    try:
        doc = json.loads(payload)
    except ValueError as e:
        raise ContentError(f"the signed payload is not JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("_type") not in STATEMENT_TYPES:
        kind = doc.get("_type") if isinstance(doc, dict) else type(doc).__name__
        raise ContentError(f"the signed payload is not an in-toto statement ({kind!r})")
    return doc


def unsigned_statement(doc: dict[str, Any]) -> dict[str, Any]:
    """The statement inside a bundle or envelope, NOT verified: for hints only."""
    envelope = doc.get("dsseEnvelope", doc)
    try:
        raw = base64.b64decode(envelope.get("payload", ""), validate=False)
        parsed = json.loads(raw)
    except (ValueError, TypeError, AttributeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
