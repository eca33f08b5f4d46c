"""The in-toto Statement a pack's signature covers: its members as subjects, the scan as the
predicate.

Subjects are every member the manifest lists plus manifest.json itself (name and SHA-256), so
the signature covers each file directly, not only through the manifest. The predicate
(`PREDICATE_TYPE`) repeats what an auditor asks first: which tool, which scan, when, which
sources answered, which policy pack, what the gate decided, and the evidence digest the
reports show.

The statement is serialised as plain JSON (sorted keys) and checked against the in-toto
attestation framework's own model (`in_toto_attestation.v1`) before it is signed and after it
is verified. The model's protobuf form is not used for the bytes: protobuf's `Struct` turns
every number into a float, and a resource count of `3.0` is not what the scan said.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from scanner.evidence.manifest import MANIFEST, Entry

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://modelward.dev/evidence-pack/v1"


class StatementError(ValueError):
    """The signed payload is not this kind of statement; the message says why."""


def predicate(document: Mapping[str, Any], evidence_digest: str) -> dict[str, Any]:
    """What the signer vouches for about the scan, taken from results.json."""
    scan = document["scan"]
    gate = document["gate"]
    return {
        "tool": dict(document["tool"]),
        "scan": {
            "id": scan["id"],
            "started_at": scan["started_at"],
            "finished_at": scan["finished_at"],
            "as_of": scan.get("as_of"),
        },
        "sources": [
            {
                "name": s["name"],
                "type": s["type"],
                "status": s["status"],
                "error": s.get("error"),
                "resource_count": s["resource_count"],
            }
            for s in scan["sources"]
        ],
        "policy_pack": dict(scan["policy_pack"]),
        "gate": {"passed": gate["passed"], "exit_code": gate["exit_code"]},
        "evidence_digest": evidence_digest,
    }


def build(entries: Sequence[Entry], manifest: bytes, facts: Mapping[str, Any]) -> bytes:
    """The statement's bytes, ready to sign."""
    subjects = [{"name": e.name, "digest": {"sha256": e.sha256}} for e in entries]
    subjects.append({"name": MANIFEST, "digest": {"sha256": hashlib.sha256(manifest).hexdigest()}})
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": sorted(subjects, key=lambda s: str(s["name"])),
        "predicateType": PREDICATE_TYPE,
        "predicate": dict(facts),
    }
    validate(doc)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def validate(doc: Mapping[str, Any]) -> None:
    """Refuse anything the in-toto attestation framework would not accept as a Statement."""
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement as intoto

    message = intoto.Statement(subjects=[], predicate_type="", predicate={}).pb
    message.Clear()
    try:
        json_format.ParseDict(dict(doc), message)
        parsed = intoto.Statement.copy_from_pb(message)
        parsed.validate()
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise StatementError(f"not a valid in-toto statement: {exc}") from None


def parse(payload_type: str, payload: bytes) -> dict[str, Any]:
    """The verified payload → the statement, refusing any other payload or predicate type."""
    if payload_type != PAYLOAD_TYPE:
        raise StatementError(f"the signed payload is {payload_type!r}, not an in-toto statement")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatementError(f"the signed payload is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE:
        raise StatementError("the signed payload is not an in-toto v1 statement")
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise StatementError(
            f"the signed statement is a {doc.get('predicateType')!r}, not a modelward evidence pack"
        )
    validate(doc)
    if not isinstance(doc.get("predicate"), dict):
        raise StatementError("the signed statement has no predicate")
    return doc


def subjects(doc: Mapping[str, Any]) -> dict[str, str]:
    """name → sha256 of every subject (a subject named twice is refused)."""
    out: dict[str, str] = {}
    for subject in doc.get("subject", []):
        name = subject.get("name")
        digest = subject.get("digest", {}).get("sha256")
        if not isinstance(name, str) or not isinstance(digest, str):
            raise StatementError(f"subject {name!r} has no sha256 digest")
        if name in out:
            raise StatementError(f"subject {name!r} appears twice")
        out[name] = digest
    return out
