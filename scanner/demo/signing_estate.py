"""The demo's release pipeline: its production models signed where they live, one tampered.

What a team does after training, done to the seeded estate before the scan:
- fraud-detector (production) is signed keylessly by the training pipeline's OIDC identity,
  against the demo's own Sigstore (`local_sigstore`: its own CA as Fulcio, its own log key as
  Rekor), with a keyless SLSA provenance attestation beside it;
- pricing-llm-adapter (champion) is signed with the release key (no provenance: nobody
  recorded how it was built);
- fraud-detector's retrained candidate (champion) is signed with the release key too, and
  then its weights are swapped in storage: the signature no longer matches.
The trust the scan needs (the release public key, the pinned trusted root, the pipeline's
identity and builder id) is written into the estate directory for the demo's config.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.demo.keys import write_key_pair
from scanner.demo.local_sigstore import LocalSigstore
from scanner.demo.registry_estate import RegistryEstate

PIPELINE = "https://ci.acme.example/pipelines/fraud-train"
ISSUER = "https://oidc.acme.example"
BUILDER = "https://ci.acme.example/builders/train@v1"
BUILD_TYPE = "https://ci.acme.example/buildtypes/train/v1"
SLSA_V1 = "https://slsa.dev/provenance/v1"


@dataclass(frozen=True)
class SigningEstate:
    release_key: Path  # the public key the scan trusts (PEM)
    trusted_root: Path  # the demo Sigstore's trusted root, pinned by the scan
    identity: str
    issuer: str
    builder: str


def _bucket_key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _download(s3: Any, uri: str, into: Path) -> Path:
    """A model directory's objects into a local directory (the pipeline's workspace)."""
    bucket, prefix = _bucket_key(uri)
    into.mkdir(parents=True, exist_ok=True)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")
    for item in listing.get("Contents", []):
        name = item["Key"][len(prefix) + 1 :]
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return into


def _upload(s3: Any, uri: str, local: Path) -> None:
    bucket, prefix = _bucket_key(uri)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{local.name}", Body=local.read_bytes())


def _provenance(model: Path) -> bytes:
    """An in-toto v1 statement with SLSA v1 provenance naming every file of `model`."""
    import hashlib

    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    subjects = [
        ResourceDescriptor(
            name=p.relative_to(model).as_posix(),
            digest={"sha256": hashlib.sha256(p.read_bytes()).hexdigest()},
        ).pb
        for p in sorted(model.rglob("*"))
        if p.is_file()
    ]
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {"dataset": "transactions-2026-q3"},
        },
        "runDetails": {"builder": {"id": BUILDER}, "metadata": {"invocationId": "train-1187"}},
    }
    statement = Statement(subjects, SLSA_V1, predicate)
    statement.validate()
    return str(json_format.MessageToJson(statement.pb)).encode()


def _sign_with_key(model: Path, private: Path) -> Path:
    import model_signing

    signature = model / "model.sig"
    config = model_signing.signing.Config()  # type: ignore[no-untyped-call]
    config.use_elliptic_key_signer(private_key=private).sign(model, signature)
    return signature


def sign_production_models(s3: Any, registry: RegistryEstate, estate_dir: Path) -> SigningEstate:
    """Sign (and tamper with) the registry's production versions in place, in S3."""
    with tempfile.TemporaryDirectory(prefix="modelward-demo-signing-") as tmp:
        work = Path(tmp)
        private, public = write_key_pair(work / "keys", "release")
        trusted_key = estate_dir / "keys" / "release.pub"
        trusted_key.parent.mkdir(parents=True, exist_ok=True)
        trusted_key.write_bytes(public.read_bytes())

        sigstore = LocalSigstore(issuer=ISSUER, name="acme")
        with sigstore.serving():
            trust = sigstore.write_trust(work / "sigstore")
            fraud = _download(s3, registry.fraud.source, work / "fraud")
            attestation = fraud / "provenance.sigstore.json"
            statement = _provenance(fraud)
            attestation.write_text(
                sigstore.sign_statement(statement, PIPELINE, trust), encoding="utf-8"
            )
            _upload(s3, registry.fraud.source, attestation)
            sigstore.sign_model(fraud, fraud / "model.sig", PIPELINE, trust)
            _upload(s3, registry.fraud.source, fraud / "model.sig")
        pinned = estate_dir / "sigstore" / "trusted_root.json"
        pinned.parent.mkdir(parents=True, exist_ok=True)
        pinned.write_bytes(trust.trusted_root.read_bytes())

        pricing = _download(s3, registry.pricing.source, work / "pricing")
        _upload(s3, registry.pricing.source, _sign_with_key(pricing, private))

        candidate = _download(s3, registry.fraud_candidate.source, work / "candidate")
        _upload(s3, registry.fraud_candidate.source, _sign_with_key(candidate, private))
        # After release, someone swaps the weights in the bucket (still valid safetensors).
        swapped = bytearray((candidate / "model.safetensors").read_bytes())
        swapped[-1] ^= 0x01
        bucket, prefix = _bucket_key(registry.fraud_candidate.source)
        s3.put_object(Bucket=bucket, Key=f"{prefix}/model.safetensors", Body=bytes(swapped))
    return SigningEstate(trusted_key, pinned, PIPELINE, ISSUER, BUILDER)
