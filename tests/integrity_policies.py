"""Small test policies in the spirit of MW-INT-01..04 (the built-in pack is written elsewhere)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import write

POLICIES = {
    "signed.yaml": """
        id: T-INT-01
        title: Model artefacts are signed
        severity: high
        maturity: applied
        resource: artefact
        check: {field: signature.present, equals: true}
    """,
    "verified.yaml": """
        id: T-INT-02
        title: Model signatures verify against trusted signers
        severity: critical
        maturity: applied
        resource: artefact
        check: {field: signature.verified, equals: true}
    """,
    "safe.yaml": """
        id: T-INT-03
        title: No model file runs code when loaded
        severity: critical
        maturity: applied
        resource: artefact
        check: {field: serialization.unsafe, count_at_most: 0}
    """,
    "digest.yaml": """
        id: T-INT-04
        title: Stored files match the digest the registry recorded
        severity: high
        maturity: advanced
        resource: model_version
        scope: {field: recorded_digest, exists: true}
        check: {field: digest_match, equals: true}
    """,
}


def integrity_pack(root: Path) -> Path:
    for name, text in POLICIES.items():
        write(root / name, text)
    return root
