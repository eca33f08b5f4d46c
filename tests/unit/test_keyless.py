"""Sigstore keyless signing proven offline, against a trust root of our own.

`scanner.demo.local_sigstore` stands in for Fulcio (our CA issues certificates naming the OIDC
identity and issuer), the CT log and Rekor (our keys sign the SCT, the checkpoint and the
inclusion promise). Signing is model-signing's own `sign sigstore` path; verification is the
scanner's, pinned to `--identity/--issuer` and the trusted root, never the network.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from scanner.artefacts.signatures import check
from scanner.artefacts.signatures.trust import IdentityTrust, TrustSet
from scanner.demo.local_sigstore import LocalSigstore, MerkleLog
from tests.signing import model_dir

CI = "https://ci.acme.example/pipelines/fraud-train"
PERSON = "release-manager@acme.example"


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory):
    root = tmp_path_factory.mktemp("keyless")
    local = LocalSigstore(issuer="https://oidc.acme.example")
    with local.serving():
        trust = local.write_trust(root / "trust")
        signed = {}
        for who in (CI, PERSON):
            model = model_dir(root / who.rsplit("/", 1)[-1].replace("@", "-"))
            local.sign_model(model, model / "model.sig", who, trust)
            signed[who] = model
    return local, trust, signed


def verify(model: Path, identity: str, issuer: str, trust_root: Path):
    pinned = TrustSet(identities=(IdentityTrust(identity, issuer, trust_root),))
    return check(model, model / "model.sig", pinned)


def test_a_workload_identity_and_an_email_identity_verify(sigstore):
    local, trust, signed = sigstore
    for who, model in signed.items():
        result = verify(model, who, local.issuer, trust.trusted_root)
        assert result.verified is True, result.error
        assert result.identity == f"{who} (https://oidc.acme.example)"


def test_the_wrong_identity_is_refused(sigstore):
    local, trust, signed = sigstore
    result = verify(signed[CI], PERSON, local.issuer, trust.trusted_root)
    assert result.verified is False
    assert "Certificate's SANs do not match release-manager@acme.example" in result.error
    assert result.identity == f"unverified: {CI}"


def test_the_wrong_issuer_is_refused(sigstore):
    _, trust, signed = sigstore
    result = verify(
        signed[CI], CI, "https://token.actions.githubusercontent.com", trust.trusted_root
    )
    assert result.verified is False and "OIDCIssuer does not match" in result.error


def test_a_certificate_from_another_ca_is_refused(sigstore, tmp_path):
    _, _, signed = sigstore
    other = LocalSigstore(issuer="https://oidc.acme.example", name="other")
    with other.serving():
        other_trust = other.write_trust(tmp_path)
    result = verify(signed[CI], CI, "https://oidc.acme.example", other_trust.trusted_root)
    assert result.verified is False
    assert "failed to build timestamp certificate chain" in result.error


def _tampered(model: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in model.rglob("*"):
        if f.is_file():
            target = copy / f.relative_to(model)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
    bundle = json.loads((copy / "model.sig").read_text())
    edit(bundle["verificationMaterial"]["tlogEntries"][0])
    (copy / "model.sig").write_text(json.dumps(bundle))
    return copy


@pytest.mark.parametrize(
    ("label", "edit", "refusal"),
    [
        (
            "inclusion proof root",
            lambda e: e["inclusionProof"].__setitem__(
                "rootHash", base64.b64encode(b"\x00" * 32).decode()
            ),
            "invalid log entry",
        ),
        (
            "inclusion promise",
            lambda e: e["inclusionPromise"].__setitem__(
                "signedEntryTimestamp", base64.b64encode(b"\x30\x00").decode()
            ),
            "invalid inclusion promise",
        ),
        (
            "no checkpoint",
            lambda e: e["inclusionProof"].pop("checkpoint"),
            "checkpoint",
        ),
    ],
)
def test_a_broken_log_entry_is_refused(sigstore, tmp_path, label, edit, refusal):
    local, trust, signed = sigstore
    copy = _tampered(signed[CI], tmp_path, edit)
    result = verify(copy, CI, local.issuer, trust.trusted_root)
    assert result.verified is False, label
    assert refusal in result.error


def test_the_log_proves_inclusion_for_every_entry_of_a_larger_tree():
    from sigstore._internal.merkle import _chain_border_right, _chain_inner, _decomp_inclusion_proof

    log = MerkleLog()
    bodies = [f"entry {i}".encode() for i in range(7)]
    for body in bodies:
        log.append(body)
    root = log.root()
    for index, body in enumerate(bodies):
        path = log.path(index)
        inner, border = _decomp_inclusion_proof(index, len(bodies))
        assert len(path) == inner + border
        seed = _chain_inner(MerkleLog.leaf_hash(body), path[:inner], index)
        assert _chain_border_right(seed, path[inner:]) == root
    one = MerkleLog()
    one.append(b"only")
    assert one.root() == MerkleLog.leaf_hash(b"only") and one.path(0) == []


def test_fulcio_refuses_a_token_from_another_issuer(sigstore):
    local, _, _ = sigstore
    forged = LocalSigstore(issuer=local.issuer).identity_token(CI)
    with pytest.raises(Exception, match=r"[Ss]ignature"):
        local.issue(b"not used", forged)


def test_modelward_verify_pins_identity_issuer_and_trust_root(sigstore, cli):
    local, trust, signed = sigstore
    model = str(signed[CI])
    root = str(trust.trusted_root)
    ok = cli("verify", model, "--identity", CI, "--issuer", local.issuer, "--trust-root", root)
    assert ok.code == 0, ok.out + ok.err
    assert f"signed by {CI} (https://oidc.acme.example)" in ok.out
    wrong = cli(
        "verify", model, "--identity", PERSON, "--issuer", local.issuer, "--trust-root", root
    )
    assert wrong.code == 1 and "SANs do not match" in wrong.out


def test_modelward_verify_accepts_an_attestation_that_covers_every_file(tmp_path, cli):
    from tests.signing import dsse_envelope, key_pair, slsa_statement

    keys = key_pair(tmp_path / "keys")
    model = model_dir(tmp_path)
    files = {
        p.relative_to(model).as_posix(): p.read_bytes() for p in model.rglob("*") if p.is_file()
    }
    (model / "provenance.intoto.jsonl").write_bytes(dsse_envelope(slsa_statement(files), keys))
    ok = cli("verify", str(model), "--key", str(keys.public))
    assert ok.code == 0, ok.out + ok.err
    (model / "config.json").write_text("{}")
    changed = cli("verify", str(model), "--key", str(keys.public))
    assert changed.code == 1 and "digest differs: config.json" in changed.out
