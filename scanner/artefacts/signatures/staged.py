"""Signatures and attestations checked in two stages, for models whose files are not at hand.

An object-store model is listed before any byte of it is read. Stage one reads only the
signature file (small) and checks that its statement is authentic (`content.py`); a
signature nobody trusted, or one that does not verify, is decided there and no model file is
read. Stage one also says which digests stage two needs: the files the statement lists that
the listing shows (an added or removed file is already a failure by name). The caller gets
those digests however is cheapest (a SHA-256 the store keeps, or a hash computed while the
file streams past for the serialization scan) and stage two compares (`match.py`).

An in-toto attestation (an envelope whose statement is not model-signing's) gets the same
treatment for its subjects, and its SLSA provenance fields become the artefact's `provenance`.
A model with no model-signing signature but an attestation is "signed" by the attestation
only when the attestation names every file of the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from scanner.artefacts.signatures import SignatureResult, is_signature_name
from scanner.artefacts.signatures.bundle import classify, load_bundle, signer_hint
from scanner.artefacts.signatures.content import (
    ContentError,
    SignedStatement,
    verify_bundle,
    verify_envelope,
)
from scanner.artefacts.signatures.library import Trust
from scanner.artefacts.signatures.match import (
    Comparison,
    ModelManifest,
    compare_manifest,
    compare_subjects,
    model_manifest,
)
from scanner.artefacts.signatures.provenance import (
    ProvenanceResult,
    build_facts,
    validate_statement,
)
from scanner.artefacts.signatures.trust import TrustSet
from scanner.errors import one_line
from scanner.inventory import Unknown

_NEEDS = {
    "publicKey": "a trusted public key (integrity.trust.keys or --key)",
    "x509CertificateChain": "a trusted certificate chain "
    "(integrity.trust.certificate_chains or --certificate-chain)",
    "certificate": "a trusted Sigstore identity with a pinned trust root "
    "(integrity.trust.identities or --identity/--issuer/--trust-root)",
    None: "a trusted public key (integrity.trust.keys)",
}


@dataclass(frozen=True)
class Checked:
    """One signature or attestation file after stage one."""

    rel: str  # the file, relative to the model directory
    kind: str | None  # model-signing | in-toto | sigstore-bundle | None (unreadable)
    final: SignatureResult | None = None  # decided without the files (no trust, not authentic)
    signed: SignedStatement | None = None
    manifest: ModelManifest | None = None  # model-signing statements
    hint: str | None = None  # who it claims to be from, unverified

    @property
    def is_attestation(self) -> bool:
        return self.kind == "in-toto"


def check_file(local: Path, rel: str, trust: TrustSet) -> Checked:
    """Stage one for the signature or attestation at `local` (a private copy of `rel`)."""
    try:
        doc = load_bundle(local)
    except (OSError, ValueError) as e:
        return _final(rel, None, False, f"unreadable signature {rel}: {e}")
    kind, material = classify(doc)
    bare = "dsseEnvelope" not in doc and "payloadType" in doc and "signatures" in doc
    if "dsseEnvelope" not in doc and "messageSignature" not in doc and not bare:
        return _final(rel, None, False, f"{rel} is neither a Sigstore bundle nor a DSSE envelope")
    if kind == "sigstore-bundle":
        return _final(
            rel,
            kind,
            Unknown(f"{rel} is a detached Sigstore bundle; verifying it is not implemented yet"),
        )
    if bare:
        candidates: Sequence[Trust] = trust.keys
    elif material == "publicKey":
        candidates = trust.keys
    elif material == "x509CertificateChain":
        candidates = trust.chains
    elif material == "certificate":
        candidates = trust.identities
    else:
        return _final(rel, kind, False, f"{rel} carries no verification material")
    hint = None if bare else signer_hint(doc, material)
    if not candidates:
        need = _NEEDS[None if bare else material]
        reason = f"{rel} cannot be verified: it needs {need}, and none is configured"
        return _final(rel, kind, Unknown(reason), hint=hint)
    errors: list[str] = []
    for entry in candidates:
        try:
            signed = verify_envelope(doc, trust.keys) if bare else verify_bundle(local, doc, entry)
        except ContentError as e:
            errors.append(str(e))
            if bare:
                break  # every key was tried at once
            continue
        if kind == "model-signing":
            try:
                manifest = model_manifest(signed.statement)
            except ContentError as e:
                return _final(rel, kind, False, str(e), hint=hint)
            return Checked(rel, kind, signed=signed, manifest=manifest, hint=hint)
        problem = validate_statement(signed.statement)
        if problem is not None:
            return _final(rel, kind, False, f"{rel}: {problem}", hint=signed.identity)
        return Checked(rel, kind, signed=signed, hint=hint)
    return _final(rel, kind, False, "; ".join(dict.fromkeys(errors)), hint=hint)


def _final(
    rel: str,
    kind: str | None,
    verified: bool | Unknown,
    error: str | None = None,
    *,
    hint: str | None = None,
) -> Checked:
    if isinstance(verified, Unknown):
        error = None
    result = SignatureResult(True, kind, verified, hint, _short(error) if error else None, rel)
    return Checked(rel, kind, final=result, hint=hint)


def needed_digests(checked: Checked, paths: Sequence[str]) -> set[str]:
    """The files whose digests stage two needs (none when stage one decided)."""
    if checked.final is not None or checked.signed is None:
        return set()
    files: dict[str, str | None] = dict.fromkeys(paths)
    if checked.manifest is not None:
        if checked.manifest.method != "files" or checked.manifest.hash_type != "sha256":
            return set()
        comparison = compare_manifest(checked.manifest, files, checked.rel)
        return set() if comparison.failed else set(comparison.unhashed)
    return set(compare_subjects(checked.signed.statement, files).unhashed)


@dataclass(frozen=True)
class Digests:
    """The files' sha256 as far as known, and why the rest are not."""

    sha256: Mapping[str, str | None]
    missing_reason: str | None = None  # why some digests are None (over budget, unreadable)
    sources: tuple[str, ...] = field(default=())  # where they came from: `read`, `S3 checksum`


def judge_signature(checked: Checked, digests: Digests) -> SignatureResult:
    """Stage two for a model-signing signature."""
    if checked.final is not None:
        return checked.final
    assert checked.signed is not None and checked.manifest is not None
    manifest = checked.manifest
    base = SignatureResult(True, checked.kind, False, checked.signed.identity, None, checked.rel)
    if manifest.method != "files" or manifest.hash_type != "sha256":
        how = f"{manifest.method} hashed with {manifest.hash_type}"
        return replace(
            base,
            verified=Unknown(
                f"{checked.rel} signs {how}: in a scan only per-file sha256 signatures are "
                "compared with stored objects; verify it with `modelward verify`"
            ),
        )
    comparison = compare_manifest(manifest, digests.sha256, checked.rel)
    return _decide(base, comparison, digests, manifest.entries)


def _decide(
    base: SignatureResult,
    comparison: Comparison,
    digests: Digests,
    entries: tuple[tuple[str, str, str], ...],
) -> SignatureResult:
    verdict = comparison.verdict
    if verdict is False:
        return replace(base, error=_short(comparison.describe()))
    if verdict is None:
        # The reason names what to do (over the budget) or the file that failed to read.
        first = comparison.unhashed[0]
        reason = digests.missing_reason or f"{first} has no digest to compare"
        return replace(base, verified=Unknown(reason))
    return replace(base, verified=True, manifest=entries, digests_from=_sources(digests))


def _sources(digests: Digests) -> str | None:
    return " and ".join(digests.sources) if digests.sources else None


def judge_attestation(checked: Checked, digests: Digests) -> ProvenanceResult:
    """Stage two for an in-toto attestation: its subjects against the files."""
    if checked.final is not None:
        final = checked.final
        return ProvenanceResult(
            present=True,
            file=checked.rel,
            predicate_type=None,
            verified=final.verified,
            identity=final.identity,
            error=final.error,
        )
    assert checked.signed is not None
    statement = checked.signed.statement
    match = compare_subjects(statement, digests.sha256)
    verdict = match.verdict
    verified: bool | Unknown
    error = None
    if verdict is True:
        verified = True
    elif verdict is False:
        verified, error = False, _short(match.describe())
    elif match.no_sha256 and not match.unhashed:
        verified = Unknown(_short(match.describe()))
    else:
        verified = Unknown(
            digests.missing_reason or f"subject {match.unhashed[0]} has no digest to compare"
        )
    return ProvenanceResult(
        present=True,
        file=checked.rel,
        predicate_type=checked.signed.predicate_type,
        verified=verified,
        identity=checked.signed.identity,
        error=error,
        subjects=tuple(
            {"name": n, "matched": n in match.matched}
            for n in (*match.matched, *match.mismatched, *match.missing, *match.unhashed)
        ),
        **build_facts(statement),
    )


def signature_from_attestation(
    checked: Checked, provenance: ProvenanceResult, paths: Sequence[str]
) -> SignatureResult:
    """An attestation standing in for a signature: verified only when it is authentic and
    names, with matching digests, every file of the model (signature files aside)."""
    model_files = sorted(p for p in paths if not is_signature_name(p.rpartition("/")[2]))
    named = {s["name"] for s in provenance.subjects if s.get("matched")}
    verified = provenance.verified
    error = provenance.error
    uncovered = [p for p in model_files if p not in named]
    if verified is True and uncovered:
        more = f" and {len(uncovered) - 1} more" if len(uncovered) > 1 else ""
        verified, error = False, f"the attestation does not cover {uncovered[0]}{more}"
    return SignatureResult(
        True, "in-toto", verified, provenance.identity or checked.hint, error, checked.rel
    )


def _short(text: str, limit: int = 600) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
