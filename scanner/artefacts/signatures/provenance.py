"""What an authentic in-toto attestation says about how a model was built.

The statement is parsed with the in-toto attestation framework's own bindings
(`in_toto_attestation`: `Statement.validate()` checks the type, subjects with digests and the
predicate type), and the SLSA provenance fields a policy asks about are read from its
predicate: v1 (`https://slsa.dev/provenance/v1`) keeps them in `buildDefinition.buildType`
and `runDetails.builder.id`, v0.2 in `buildType` and `builder.id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown

SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"


@dataclass(frozen=True)
class ProvenanceResult:
    """An artefact's `provenance` attribute: the attestation found beside its files."""

    present: bool
    file: str | None = None
    predicate_type: str | None = None
    verified: bool | Unknown = False  # authentic, and every subject matches a file
    identity: str | None = None  # who signed the attestation (verified) or claims to
    error: str | None = None
    builder_id: str | None = None
    build_type: str | None = None
    subjects: tuple[dict[str, Any], ...] = field(default=())

    def attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "present": self.present,
            "file": self.file,
            "predicate_type": self.predicate_type,
            "verified": self.verified,
            "identity": self.identity,
            "error": self.error,
        }
        if self.builder_id is not None:
            out["builder_id"] = self.builder_id
        if self.build_type is not None:
            out["build_type"] = self.build_type
        if self.subjects:
            out["subjects"] = [dict(s) for s in self.subjects]
        return out


NO_PROVENANCE = ProvenanceResult(present=False, error="no attestation found")


def validate_statement(statement: dict[str, Any]) -> str | None:
    """Why `statement` is not a valid in-toto v1 statement, or None."""
    from google.protobuf import json_format
    from in_toto_attestation.v1.statement import Statement
    from in_toto_attestation.v1.statement_pb2 import Statement as StatementProto

    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        return None  # v0.1 statements predate the bindings; their subjects are checked anyway
    try:
        proto = json_format.ParseDict(statement, StatementProto(), ignore_unknown_fields=True)
        Statement.copy_from_pb(proto).validate()
    except Exception as e:  # json_format.ParseError, ValueError from validate()
        return f"not a valid in-toto statement: {e}"
    return None


def build_facts(statement: dict[str, Any]) -> dict[str, str]:
    """`builder_id` and `build_type` of a SLSA provenance predicate, where present."""
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        return {}
    kind = statement.get("predicateType")
    out: dict[str, str] = {}
    if kind == SLSA_V1:
        definition = predicate.get("buildDefinition") or {}
        run = predicate.get("runDetails") or {}
        builder = run.get("builder") if isinstance(run, dict) else None
        build_type = definition.get("buildType") if isinstance(definition, dict) else None
        builder_id = builder.get("id") if isinstance(builder, dict) else None
    elif kind == SLSA_V02:
        builder = predicate.get("builder")
        build_type = predicate.get("buildType")
        builder_id = builder.get("id") if isinstance(builder, dict) else None
    else:
        return {}
    if isinstance(builder_id, str) and builder_id:
        out["builder_id"] = builder_id
    if isinstance(build_type, str) and build_type:
        out["build_type"] = build_type
    return out
