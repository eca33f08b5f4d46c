"""Signature verification with model-signing: keys, our own CA, keyless; every tampering caught."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from scanner.artefacts.signatures import check, find_signature
from scanner.artefacts.signatures.trust import (
    ChainTrust,
    IdentityTrust,
    KeyTrust,
    TrustSet,
)
from scanner.inventory import Unknown
from tests.signing import key_pair, model_dir, pki, sign_with_certificate, sign_with_key


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    return key_pair(root, "release"), key_pair(root, "attacker")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def signed(tmp_path, keys):
    model = model_dir(tmp_path)
    sign_with_key(model, keys[0])
    return model


def verify(model: Path, trust: TrustSet):
    return check(model, find_signature(model, _names(model)), trust)


def _names(model: Path) -> list[str]:
    if model.is_file():
        return [model.name]
    return sorted(p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file())


def test_key_signature_verifies_and_model_sig_is_not_an_extra_file(signed, keys) -> None:
    result = verify(signed, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert result.verified is True, result.error
    assert result.kind == "model-signing" and result.file == "model.sig"
    assert result.identity.startswith("key release.pub (sha256:")
    assert {p for p, _, _ in result.manifest} == {
        "config.json",
        "model.safetensors",
        "tokenizer/vocab.txt",
    }


def test_changed_file_fails(signed, keys) -> None:
    (signed / "config.json").write_text('{"arch": "evil"}')
    result = verify(signed, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert result.verified is False
    assert result.error == "files do not match the signature: changed: config.json"


def test_added_file_fails(signed, keys) -> None:
    (signed / "backdoor.pkl").write_bytes(b"x")
    result = verify(signed, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert result.verified is False
    assert result.error == "files do not match the signature: added: backdoor.pkl"


def test_removed_file_fails(signed, keys) -> None:
    (signed / "tokenizer" / "vocab.txt").unlink()
    result = verify(signed, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert result.verified is False
    assert result.error == "files do not match the signature: removed: tokenizer/vocab.txt"


def test_wrong_key_fails(signed, keys) -> None:
    result = verify(signed, TrustSet(keys=(KeyTrust(keys[1].public),)))
    assert result.verified is False
    assert "not signed by the trusted key attacker.pub" in result.error
    assert result.identity.startswith("unverified: key sha256:")


def test_any_trusted_key_may_verify(signed, keys) -> None:
    trust = TrustSet(keys=(KeyTrust(keys[1].public), KeyTrust(keys[0].public)))
    assert verify(signed, trust).verified is True


def test_forged_statement_fails(signed, keys) -> None:
    """Editing the signed manifest (to match a swapped file) breaks the signature itself."""
    sig = signed / "model.sig"
    bundle = json.loads(sig.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "00" * 32
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    sig.write_text(json.dumps(bundle))
    result = verify(signed, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert result.verified is False and "InvalidSignature" in result.error


def test_no_trust_for_the_kind_is_unknown_not_a_pass(signed, ca) -> None:
    result = verify(signed, TrustSet(chains=(ChainTrust(ca.root_ca),)))
    assert isinstance(result.verified, Unknown)
    assert "trusted public key (integrity.trust.keys or --key)" in result.verified.reason


def test_unsigned_model(tmp_path) -> None:
    result = verify(model_dir(tmp_path), TrustSet())
    assert (result.present, result.verified, result.error) == (False, False, "no signature found")


def test_unreadable_signature_fails(tmp_path, keys) -> None:
    model = model_dir(tmp_path)
    (model / "model.sig").write_text("{not json")
    result = verify(model, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert result.present is True and result.verified is False
    assert result.error.startswith("unreadable signature model.sig:")


def test_single_file_with_detached_signature(tmp_path, keys) -> None:
    model = model_dir(tmp_path) / "model.safetensors"
    sign_with_key(model, keys[0])
    assert (tmp_path / "fraud" / "model.safetensors.sig").is_file()
    assert verify(model, TrustSet(keys=(KeyTrust(keys[0].public),))).verified is True
    model.write_bytes(model.read_bytes() + b" ")
    assert verify(model, TrustSet(keys=(KeyTrust(keys[0].public),))).verified is False


# --- certificate chains: our own CA only ------------------------------------------------------


def test_certificate_chain_verifies(tmp_path, ca) -> None:
    model = model_dir(tmp_path)
    sign_with_certificate(model, ca)
    result = verify(model, TrustSet(chains=(ChainTrust(ca.root_ca, ca.identity),)))
    assert result.verified is True, result.error
    assert result.identity == "release@acme.test"


def test_certificate_from_another_ca_fails(tmp_path, ca) -> None:
    other = pki(tmp_path / "other", name="other")
    model = model_dir(tmp_path)
    sign_with_certificate(model, other)
    result = verify(model, TrustSet(chains=(ChainTrust(ca.root_ca),)))
    assert result.verified is False
    assert "certificate not trusted by acme-root.pem" in result.error


def test_wrong_identity_fails(tmp_path, ca) -> None:
    model = model_dir(tmp_path)
    sign_with_certificate(model, ca)
    result = verify(model, TrustSet(chains=(ChainTrust(ca.root_ca, "ceo@acme.test"),)))
    assert result.verified is False
    assert result.error == (
        "signed by release@acme.test, acme release, not by the trusted identity ceo@acme.test"
    )


def test_changed_file_fails_under_a_chain_too(tmp_path, ca) -> None:
    model = model_dir(tmp_path)
    sign_with_certificate(model, ca)
    (model / "model.safetensors").write_bytes(b"swapped")
    result = verify(model, TrustSet(chains=(ChainTrust(ca.root_ca),)))
    assert result.verified is False and "changed: model.safetensors" in result.error


# --- Sigstore keyless (offline) ----------------------------------------------------------------


def _keyless_bundle(model: Path, ca) -> None:
    """A bundle shaped as Sigstore keyless signing makes it: a single certificate as material.
    Real keyless bundles need Fulcio and Rekor; this one has no transparency-log entry, so the
    offline verification must refuse it."""
    sig = model / "model.sig"
    bundle = json.loads(sig.read_text())
    leaf = ca.leaf_cert.read_text()
    der = "".join(line for line in leaf.splitlines() if "CERTIFICATE" not in line)
    bundle["verificationMaterial"] = {"certificate": {"rawBytes": der}, "tlogEntries": []}
    sig.write_text(json.dumps(bundle))


@pytest.fixture
def trusted_root(tmp_path) -> Path:
    """A pinned trusted root (sigstore-python ships the public-good one; copied, not fetched)."""
    import sigstore

    shipped = next(Path(sigstore.__file__).parent.glob("_store/*sigstore.dev/trusted_root.json"))
    return Path(shutil.copy(shipped, tmp_path / "trusted_root.json"))


def test_keyless_without_transparency_proof_fails_offline(tmp_path, keys, ca, trusted_root):
    model = model_dir(tmp_path)
    sign_with_key(model, keys[0])
    _keyless_bundle(model, ca)
    trust = TrustSet(
        identities=(IdentityTrust(ca.identity, "https://accounts.example", trusted_root),)
    )
    result = verify(model, trust)
    assert result.verified is False
    assert result.error.startswith("not signed by release@acme.test (https://accounts.example)")


def test_keyless_needs_an_identity(tmp_path, keys, ca) -> None:
    model = model_dir(tmp_path)
    sign_with_key(model, keys[0])
    _keyless_bundle(model, ca)
    result = verify(model, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert isinstance(result.verified, Unknown)
    assert "Sigstore identity with a pinned trust root" in result.verified.reason
    assert result.identity == "unverified: release@acme.test"


# --- other signature kinds: recognised, not verified ----------------------------------------


@pytest.mark.parametrize(
    ("name", "doc", "kind"),
    [
        (
            "model.sigstore.json",
            {
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {"certificate": {"rawBytes": ""}},
                "messageSignature": {"signature": ""},
            },
            "sigstore-bundle",
        ),
        (
            "provenance.intoto.jsonl",
            {"payloadType": "application/vnd.in-toto+json", "payload": "", "signatures": []},
            "in-toto",
        ),
    ],
)
def test_other_kinds_are_present_but_unknown(tmp_path, name, doc, kind) -> None:
    model = model_dir(tmp_path)
    (model / name).write_text(json.dumps(doc))
    result = verify(model, TrustSet())
    assert result.present is True and result.kind == kind
    assert isinstance(result.verified, Unknown)
    assert "not implemented yet" in result.verified.reason


# --- in-toto attestations beside local models --------------------------------------------------


def _attested(tmp_path: Path, keys) -> Path:
    from tests.signing import dsse_envelope, slsa_statement

    model = model_dir(tmp_path)
    files = {
        p.relative_to(model).as_posix(): p.read_bytes() for p in model.rglob("*") if p.is_file()
    }
    (model / "provenance.intoto.jsonl").write_bytes(dsse_envelope(slsa_statement(files), keys))
    return model


def _collect(model: Path, trust: TrustSet):
    from scanner.artefacts.signatures.trust import TrustPolicy
    from scanner.sources.interface import SourceSpec
    from scanner.sources.local import LocalPathSource

    spec = SourceSpec("path", str(model), "local", {"trust": TrustPolicy(trust)})
    (artefact,) = LocalPathSource(spec).collect(lambda _m: None).resources
    return artefact.attributes


def test_a_local_attestation_is_verified_provenance_and_stands_as_the_signature(tmp_path, keys):
    model = _attested(tmp_path, keys[0])
    attributes = _collect(model, TrustSet(keys=(KeyTrust(keys[0].public),)))
    provenance = attributes["provenance"]
    assert provenance["verified"] is True, provenance
    assert provenance["builder_id"] == "https://ci.acme.example/builders/train@v1"
    assert attributes["signature"]["kind"] == "in-toto"
    assert attributes["signature"]["verified"] is True


def test_a_local_attestation_over_changed_files_fails(tmp_path, keys):
    model = _attested(tmp_path, keys[0])
    (model / "config.json").write_text('{"arch": "changed"}')
    attributes = _collect(model, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert attributes["provenance"]["verified"] is False
    assert "digest differs: config.json" in attributes["provenance"]["error"]
    assert attributes["signature"]["verified"] is False


def test_a_local_attestation_by_an_untrusted_key_fails(tmp_path, keys):
    model = _attested(tmp_path, keys[1])
    attributes = _collect(model, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert attributes["provenance"]["verified"] is False
    assert "not signed by the trusted key release.pub" in attributes["provenance"]["error"]
    assert "builder_id" not in attributes["provenance"]  # an unverified claim is not reported


def test_a_signature_beside_a_model_directory_is_its_signature(tmp_path, keys):
    model = model_dir(tmp_path)
    sign_with_key(model, keys[0], tmp_path / "fraud.sig")
    result = verify(model, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert result.verified is True, result.error
    assert result.file == "../fraud.sig"


def test_mlflows_model_sig_beside_model_is_not_a_marker_of_the_run(tmp_path, keys):
    run = tmp_path / "artifacts"
    model = model_dir(run, "model")
    sign_with_key(model, keys[0], run / "model.sig")
    attributes = _collect(run, TrustSet(keys=(KeyTrust(keys[0].public),)))
    assert attributes["location"]["path"] == str(model)
    assert attributes["signature"]["verified"] is True
    assert attributes["signature"]["file"] == "../model.sig"
