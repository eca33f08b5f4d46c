"""`modelward scan --evidence-pack` and `modelward evidence verify`, end to end: a scan writes a
signed pack, an auditor verifies it offline, and every way of tampering with it is refused
with one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from scanner import results
from scanner.evidence import manifest as layout
from scanner.evidence.archive import sha256_hex
from tests.evidence_packs import (
    SCAN_ARGS,
    ed25519_pair,
    edit_json,
    estate,
    members,
    resign,
    rezip,
    tamper,
)
from tests.helpers import write
from tests.signing import key_pair, pki


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return estate(tmp_path)


@pytest.fixture
def signed(cli, workspace: Path) -> tuple[Path, Path]:
    """A pack signed with an EC P-256 key, and the public key an auditor is given."""
    keys = key_pair(workspace / "keys")
    r = cli(
        "scan", *SCAN_ARGS, "-o", "out", "--format", "json,sarif", "--evidence-pack",
        "evidence/pack.zip", "--evidence-key", str(keys.private), cwd=workspace,
    )  # fmt: skip
    assert r.code == 1, r.err  # T-ART-01 fails on the pickle model: the gate fails
    assert "wrote evidence/pack.zip" in r.out
    return workspace / "evidence" / "pack.zip", keys.public


def verify(cli, pack: Path, *trust: str):
    return cli("evidence", "verify", str(pack), *trust)


def one_fail_line(r) -> str:
    lines = [line for line in r.out.splitlines() if line.startswith("FAIL ")]
    assert len(lines) == 1, r.out
    return lines[0]


# --- the round trip ---------------------------------------------------------------------------


def test_round_trip_with_a_key(cli, signed):
    pack, public = signed
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 0, r.out + r.err
    assert "signature: verified, signed by key sha256:" in r.out
    assert "source path:models (path): ok, 2 resources" in r.out
    assert "gate: failed (exit 1)" in r.out
    assert "every verdict matches" in r.out
    assert r.out.rstrip().endswith(f"verified {pack}")


def test_pack_holds_what_the_scan_wrote_and_read(signed, workspace):
    pack, _ = signed
    content = members(pack)
    names = list(content)
    assert names[:3] == [layout.MANIFEST, layout.SIGNATURE, layout.RESULTS]
    out = workspace / "out"
    # every output written, byte for byte, and the HTML report although not asked for
    assert content["outputs/results.json"] == (out / "results.json").read_bytes()
    assert content["outputs/results.sarif"] == (out / "results.sarif").read_bytes()
    assert "outputs/report.html" in content and not (out / "report.html").exists()
    # the evidence is results.json less its index of the outputs (`scan.outputs`): those are
    # rendered after the evidence digest they show, so the evidence cannot list them
    written = json.loads((out / "results.json").read_bytes())
    assert {o["file"] for o in written["scan"].pop("outputs")} == {"results.sarif"}
    assert content[layout.RESULTS] == results.dumps(written).encode()
    # the policies as evaluated, and the settings that select them
    for name in ("few_files.yaml", "no_pickle.yaml", "threat_model.yaml"):
        assert content[f"policies/0/{name}"] == (workspace / "pack" / name).read_bytes()
    settings = json.loads(content[layout.SETTINGS])
    assert settings["policies"]["exclude"] == ["T-GOV-*"]
    assert settings["as_of"] == "2026-01-15T00:00:00Z"
    assert settings["sources"][0]["kind"] == "path"
    raw = json.loads(content[layout.RAW_ANSWERS])["resources"]
    assert {r["source"] for r in raw.values()} == {"path:models"}
    assert any(rid.endswith("/models/legacy") for rid in raw)
    # the manifest lists every member but itself and the signature, with its digest
    manifest = json.loads(content[layout.MANIFEST])
    listed = {e["name"]: e for e in manifest["evidence"] + manifest["outputs"]}
    assert set(listed) == set(content) - {layout.MANIFEST, layout.SIGNATURE}
    for name, item in listed.items():
        assert item["sha256"] == sha256_hex(content[name]) and item["size"] == len(content[name])
    # deterministic container: fixed timestamps and modes
    with zipfile.ZipFile(pack) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in archive.infolist()} == {0o100644}


def test_evidence_digest_is_recomputable_from_the_manifest_alone(signed):
    """What docs/evidence.md tells an auditor: `jq -cjS .evidence manifest.json | sha256sum`."""
    pack, _ = signed
    manifest = json.loads(members(pack)[layout.MANIFEST])
    canonical = json.dumps(
        manifest["evidence"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert manifest["evidence_digest"] == "sha256:" + sha256_hex(canonical)


def test_html_report_names_the_pack_digest_and_signer(cli, workspace):
    keys = ed25519_pair(workspace / "keys")
    r = cli(
        "scan", *SCAN_ARGS, "-o", "out", "--format", "html", "--evidence-pack", "pack.zip",
        "--evidence-key", str(keys.private), cwd=workspace,
    )  # fmt: skip
    assert r.code == 1, r.err
    content = members(workspace / "pack.zip")
    digest = json.loads(content[layout.MANIFEST])["evidence_digest"]
    html = (workspace / "out" / "report.html").read_text()
    assert content["outputs/report.html"] == (workspace / "out" / "report.html").read_bytes()
    assert f"evidence digest <code>{digest}</code>" in html
    assert re.search(r"signed by key sha256:[0-9a-f]{16}", html)
    v = verify(cli, workspace / "pack.zip", "--key", str(keys.public))
    assert v.code == 0, v.out
    assert digest in v.out
    signer = re.search(r"signed by (key sha256:[0-9a-f]{16})", html)
    assert signer is not None and f"signed by {signer.group(1)}" in v.out


def test_round_trip_with_builtin_pack_waivers_baseline_params_and_config(cli, workspace):
    """Everything re-evaluation reads from the pack: the built-in policies and mappings, a
    config file, a waiver, a baseline and a param override."""
    keys = ed25519_pair(workspace / "keys")
    write(
        workspace / "w.yaml",
        """
        waivers:
          - {policy: MW-GOV-03, resource: "*", justification: on the agenda, approved_by: ciso,
             expires: 2026-02-01}
          - {policy: MW-GOV-04, resource: "*", justification: booked, approved_by: ciso,
             expires: 2026-01-10}
        """,
    )
    first = cli("scan", "--source", "path:models", "--as-of", "2026-01-15", "--create-baseline",
                "base.json", "--soft-fail", cwd=workspace)  # fmt: skip
    assert first.code == 0, first.err
    write(workspace / "modelward.yaml", "sources: [path:models]\ngate:\n  fail_on: critical\n")
    r = cli(
        "scan", "-c", "modelward.yaml", "--as-of", "2026-01-15", "--waivers", "w.yaml",
        "--baseline", "base.json", "--param", "MW-GOV-01.max_age_days=30", "--evidence-pack",
        "pack.zip", "--evidence-key", str(keys.private), cwd=workspace,
    )  # fmt: skip
    assert r.code == 0, r.err  # every failure is in the baseline
    content = members(workspace / "pack.zip")
    assert "inputs/waivers/w.yaml" in content and "inputs/baseline/base.json" in content
    assert content[layout.CONFIG].startswith(b"# modelward.yaml as the scan read it")
    assert any(n.startswith("mappings/") for n in content)
    results = json.loads(content[layout.RESULTS])
    assert any(f["status"] == "waived" for f in results["findings"])
    assert results["scan"]["params"] == {"MW-GOV-01": {"max_age_days": 30}}
    assert any("w.yaml" in note for note in results["gate"]["notes"])  # the expired waiver
    v = verify(cli, workspace / "pack.zip", "--key", str(keys.public))
    assert v.code == 0, v.out


def test_ed25519_packs_are_byte_identical_for_the_same_results(workspace):
    """Ed25519 signatures are deterministic and the container is reproducible, so the same
    results and files give the same pack, byte for byte."""
    from scanner.evidence import pack as packing
    from scanner.evidence.settings import ScanSettings
    from scanner.evidence.signers import key_signer
    from scanner.gate import GateSettings
    from scanner.inventory import Inventory
    from tests.helpers import make_document

    signer = key_signer(ed25519_pair(workspace / "keys").private)
    document = make_document([])
    settings = ScanSettings((), (), (), {}, (), (), GateSettings(), "", None, 90, None)
    files = packing.ScanFiles((("pack", workspace / "pack"),), (), None, None, None)
    built = []
    for _ in range(2):
        evidence = packing.collect(document, Inventory(), files, settings, signer, "p.zip")
        built.append(packing.seal(evidence, document, {"report.html": b"<html>"}, signer))
    assert built[0] == built[1]


def test_round_trip_with_a_certificate_chain(cli, workspace):
    ca = pki(workspace / "pki")
    r = cli(
        "scan", *SCAN_ARGS, "--evidence-pack", "pack.zip", "--evidence-key", str(ca.leaf_key),
        "--evidence-certificate", str(ca.leaf_cert), "--evidence-certificate-chain",
        str(ca.intermediate), cwd=workspace,
    )  # fmt: skip
    assert r.code == 1, r.err
    pack = workspace / "pack.zip"
    v = verify(cli, pack, "--certificate-chain", str(ca.root_ca), "--certificate-identity",
               ca.identity)  # fmt: skip
    assert v.code == 0, v.out
    assert f"signed by certificate {ca.identity}" in v.out
    other = pki(workspace / "other", name="other")
    v = verify(cli, pack, "--certificate-chain", str(other.root_ca))
    assert v.code == 1
    assert "is not trusted by other-root.pem" in one_fail_line(v)
    v = verify(cli, pack, "--certificate-chain", str(ca.root_ca), "--certificate-identity",
               "mallory@acme.test")  # fmt: skip
    assert v.code == 1
    assert "not by the trusted identity mallory@acme.test" in one_fail_line(v)


def test_json_output(cli, signed):
    pack, public = signed
    r = cli("evidence", "verify", str(pack), "--key", str(public), "--json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["verified"] is True and doc["problems"] == [] and doc["differences"] == []
    assert doc["statement"]["gate"] == {"passed": False, "exit_code": 1}
    assert doc["evidence_digest"].startswith("sha256:")


def _keyless_shaped(pack: Path, leaf_cert: Path) -> None:
    """The pack's bundle with a certificate where a Fulcio certificate goes, and no Rekor
    entry: what a forged keyless signature looks like."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    leaf = x509.load_pem_x509_certificate(leaf_cert.read_bytes())
    der = base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()

    def edit(content: dict[str, bytes]) -> None:
        bundle = json.loads(content[layout.SIGNATURE])
        bundle["verificationMaterial"] = {"certificate": {"rawBytes": der}, "tlogEntries": []}
        content[layout.SIGNATURE] = json.dumps(bundle).encode()

    tamper(pack, edit)


def _trusted_root(path: Path, ca_cert: Path) -> Path:
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    root = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    raw = base64.b64encode(root.public_bytes(serialization.Encoding.DER)).decode()
    path.write_text(
        json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [],
                "ctlogs": [],
                "timestampAuthorities": [],
                "certificateAuthorities": [
                    {
                        "subject": {"organization": "acme", "commonName": "acme"},
                        "uri": "https://fulcio.acme.test",
                        "certChain": {"certificates": [{"rawBytes": raw}]},
                        "validFor": {"start": "2020-01-01T00:00:00Z"},
                    }
                ],
            }
        )
    )
    return path


def test_keyless_verification_is_offline_and_refuses_a_bundle_without_a_log_entry(
    cli, signed, workspace
):
    """A certificate from a CA in the pinned root, but no transparency log entry: refused, with
    the pinned root and with the public-good root shipped with sigstore, without the network."""
    pack, _ = signed
    ca = pki(workspace / "pki")
    _keyless_shaped(pack, ca.leaf_cert)
    root = _trusted_root(workspace / "trusted_root.json", ca.root_ca)
    for extra in (["--trust-root", str(root)], []):
        r = verify(cli, pack, "--identity", ca.identity, "--issuer", "https://oidc.acme.test",
                   *extra)  # fmt: skip
        assert r.code == 1
        line = one_fail_line(r)
        assert "the signature does not verify: the Sigstore bundle cannot be read" in line
        assert "log entry" in line
        assert r.err == ""  # no warning about offline mode: offline is the point
    r = verify(cli, pack, "--identity", ca.identity, "--issuer", "https://oidc.acme.test",
               "--trust-root", str(workspace / "keys" / "release.pub"))  # fmt: skip
    assert r.code == 1
    assert "cannot read the trust root" in one_fail_line(r)


def test_keyless_pack_verifies_offline_against_a_local_trust_root(cli, workspace, monkeypatch):
    """Signed keyless against the local Sigstore (its OIDC issuer, Fulcio and Rekor, given by
    --evidence-trust-config), then verified with the services gone, pinned to its trusted
    root and to the signer's identity and issuer; a wrong identity, a wrong issuer and a root
    of another Sigstore instance are each refused."""
    from scanner.demo.local_sigstore import LocalSigstore

    ci = "https://ci.acme.example/pipelines/compliance-scan"
    sigstore = LocalSigstore(issuer="https://oidc.acme.example")
    with sigstore.serving():
        trust = sigstore.write_trust(workspace / "sigstore")
        monkeypatch.setenv("SIGSTORE_IDENTITY_TOKEN", sigstore.identity_token(ci))
        r = cli("scan", *SCAN_ARGS, "--evidence-pack", "evidence/pack.zip", "--evidence-keyless",
                "--evidence-trust-config", str(trust.client_config), cwd=workspace)  # fmt: skip
    assert r.code == 1, r.err  # the gate fails on the pickle model; the pack is written
    assert len(sigstore.entries) == 1  # the signature went into the (local) transparency log
    pack = workspace / "evidence" / "pack.zip"
    root = str(trust.trusted_root)

    v = verify(cli, pack, "--identity", ci, "--issuer", sigstore.issuer, "--trust-root", root)
    assert v.code == 0, v.out
    assert f"signature: verified, signed by {ci} ({sigstore.issuer})" in v.out
    assert v.err == ""

    wrong_identity = verify(cli, pack, "--identity", "https://ci.acme.example/other",
                            "--issuer", sigstore.issuer, "--trust-root", root)  # fmt: skip
    assert wrong_identity.code == 1
    assert "SANs do not match https://ci.acme.example/other" in one_fail_line(wrong_identity)
    wrong_issuer = verify(cli, pack, "--identity", ci, "--issuer", "https://oidc.other.example",
                          "--trust-root", root)  # fmt: skip
    assert wrong_issuer.code == 1
    assert "OIDCIssuer does not match" in one_fail_line(wrong_issuer)
    other = LocalSigstore(issuer=sigstore.issuer, name="other").write_trust(workspace / "other")
    another_ca = verify(cli, pack, "--identity", ci, "--issuer", sigstore.issuer,
                        "--trust-root", str(other.trusted_root))  # fmt: skip
    assert another_ca.code == 1
    assert "failed to build timestamp certificate chain" in one_fail_line(another_ca)


# --- tampering: each refused with one line and a non-zero exit ---------------------------------


def test_modified_member(cli, signed):
    pack, public = signed

    def edit(content: dict[str, bytes]) -> None:
        content["outputs/results.sarif"] += b" "

    tamper(pack, edit)
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    assert "member 'outputs/results.sarif' was modified after signing" in one_fail_line(r)
    assert "NOT verified" in r.out


def test_modified_results_json(cli, signed):
    pack, public = signed
    tamper(pack, edit_json(layout.RESULTS, lambda d: d["gate"].update(passed=True, exit_code=0)))
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    assert "member 'results.json' was modified after signing" in r.out


def test_missing_member(cli, signed):
    pack, public = signed
    tamper(pack, lambda c: c.pop("policies/0/no_pickle.yaml"))
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    assert "member 'policies/0/no_pickle.yaml' is missing" in one_fail_line(r)


def test_extra_member(cli, signed):
    pack, public = signed
    tamper(pack, lambda c: c.update({"policies/0/allow_all.yaml": b"id: X\n"}))
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    line = one_fail_line(r)
    assert "'policies/0/allow_all.yaml' is not in the signed manifest (added after signing)" in line


def test_modified_manifest(cli, signed):
    pack, public = signed
    tamper(pack, edit_json(layout.MANIFEST, lambda d: d["outputs"].pop()))
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    assert "manifest.json was changed after the pack was signed" in one_fail_line(r)


def test_wrong_key(cli, signed, workspace):
    pack, _ = signed
    other = key_pair(workspace / "other", "other")
    r = verify(cli, pack, "--key", str(other.public))
    assert r.code == 1
    line = one_fail_line(r)
    assert "the signature does not verify: signed by another key" in line
    assert "not by other.pub" in line


def test_wrong_kind_of_trust(cli, signed, workspace):
    pack, _ = signed
    ca = pki(workspace / "pki")
    r = verify(cli, pack, "--certificate-chain", str(ca.root_ca))
    assert r.code == 1
    assert "signed with a key, but the trust given is a certificate chain" in one_fail_line(r)
    r = verify(cli, pack, "--identity", "ci@acme.test", "--issuer", "https://oidc.acme.test")
    assert r.code == 1
    assert "the trust given is a Sigstore identity" in one_fail_line(r)


def test_forged_signature(cli, signed):
    pack, public = signed

    def edit(content: dict[str, bytes]) -> None:
        bundle = json.loads(content[layout.SIGNATURE])
        statement = json.loads(__import__("base64").b64decode(bundle["dsseEnvelope"]["payload"]))
        statement["predicate"]["gate"] = {"passed": True, "exit_code": 0}
        bundle["dsseEnvelope"]["payload"] = (
            __import__("base64").b64encode(json.dumps(statement).encode()).decode()
        )
        content[layout.SIGNATURE] = json.dumps(bundle).encode()

    tamper(pack, edit)
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    assert "the signature does not verify with this key: the statement was changed" in (
        one_fail_line(r)
    )


def test_truncated_archive(cli, signed):
    pack, public = signed
    data = pack.read_bytes()
    pack.write_bytes(data[: len(data) // 2])
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 2
    assert "not a readable zip archive (truncated or damaged?)" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_zip_slip_member_is_refused_and_nothing_is_written(cli, signed, workspace):
    pack, public = signed
    content = members(pack)
    content["../../escaped.txt"] = b"owned"
    rezip(pack, content)
    before = sorted(p.name for p in workspace.parent.iterdir())
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 2
    assert (
        "member '../../escaped.txt': has a '..' component that escapes the archive (zip slip)"
        in (r.err)
    )
    assert sorted(p.name for p in workspace.parent.iterdir()) == before
    assert not list(workspace.parent.parent.glob("escaped.txt"))


def test_absolute_member_name_is_refused(cli, signed):
    pack, public = signed
    rezip(pack, {**members(pack), "/etc/cron.d/x": b"* * * * * root true\n"})
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 2
    assert "has an absolute path (zip slip)" in r.err


def test_symlink_member_is_refused(cli, signed):
    pack, public = signed
    content = members(pack)
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in content.items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("policies/0/link.yaml")
        link.create_system = 3
        link.external_attr = (0o120777) << 16  # S_IFLNK
        archive.writestr(link, "/etc/passwd")
    pack.write_bytes(buffer.getvalue())
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 2
    assert "member 'policies/0/link.yaml': is a symbolic link; the pack is refused" in r.err


def test_zip_bomb_member_is_refused(cli, signed):
    pack, public = signed
    content = members(pack)
    content["outputs/bomb.bin"] = b"\0" * (16 * 1024 * 1024)  # deflates about 1000 to 1
    rezip(pack, content)
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 2
    assert "member 'outputs/bomb.bin': expands" in r.err and "(a zip bomb?)" in r.err


def test_overlapping_entries_are_refused(cli, signed):
    """The non-recursive zip bomb: several directory entries pointing into the same data."""
    pack, public = signed
    data = bytearray(pack.read_bytes())
    with zipfile.ZipFile(pack) as archive:
        infos = archive.infolist()
    # point the last central directory entry's local header offset at the first member
    end = data.rfind(b"PK\x05\x06")
    cd_offset = int.from_bytes(data[end + 16 : end + 20], "little")
    position = cd_offset
    for _ in infos[:-1]:
        name_len, extra_len, comment_len = (
            int.from_bytes(data[position + o : position + o + 2], "little") for o in (28, 30, 32)
        )
        position += 46 + name_len + extra_len + comment_len
    data[position + 42 : position + 46] = (0).to_bytes(4, "little")
    pack.write_bytes(bytes(data))
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 2
    assert "(a zip bomb?)" in r.err and "overlaps the data of" in r.err


def test_duplicate_member_is_refused(cli, signed):
    pack, public = signed
    content = members(pack)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it writes
        with zipfile.ZipFile(pack, "a") as archive:
            archive.writestr(layout.RESULTS, content[layout.RESULTS])
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 2
    assert "member 'results.json': appears twice" in r.err


def test_not_a_pack(cli, workspace, tmp_path):
    keys = key_pair(workspace / "keys")
    plain = rezip(tmp_path / "x.zip", {"readme.txt": b"hello"})
    r = verify(cli, plain, "--key", str(keys.public))
    assert r.code == 1
    assert "the pack has no signature.sigstore.json" in one_fail_line(r)
    r = verify(cli, tmp_path / "missing.zip", "--key", str(keys.public))
    assert r.code == 2 and "no such file" in r.err


# --- signed, but not what the pack's own rules give ---------------------------------------------


def test_results_edited_before_signing_are_caught_by_re_evaluation(cli, signed, workspace):
    """The signer's key signs whatever it is given: a results.json whose failing verdict was
    turned into a pass and then signed is caught by judging the archived resources again."""
    pack, public = signed
    keys_private = workspace / "keys" / "release.key"

    def make_it_pass(doc: dict) -> None:
        for finding in doc["findings"]:
            if finding["status"] == "fail":
                finding["status"] = "pass"

    resign(pack, keys_private, edit_json(layout.RESULTS, make_it_pass))
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    assert re.search(
        r"FAIL re-evaluation: T-ART-01 on file://\S+/models/legacy: results.json says pass, the "
        r"re-evaluation says fail",
        r.out,
    ), r.out
    assert "NOT verified (verdicts differ)" in r.out


def test_policy_edited_before_signing_is_caught_by_re_evaluation(cli, signed, workspace):
    pack, public = signed

    def loosen(content: dict[str, bytes]) -> None:
        name = "policies/0/few_files.yaml"
        content[name] = content[name].replace(b"max_files: 3", b"max_files: 0")

    resign(pack, workspace / "keys" / "release.key", loosen)
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    assert "T-ART-02 on" in r.out and "results.json says pass, the re-evaluation says fail" in r.out
    assert "scan.policy_pack: results.json has" in r.out


# --- flags ------------------------------------------------------------------------------------


def test_scan_flags_are_checked_before_the_scan(cli, workspace):
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.zip", cwd=workspace)
    assert r.code == 2 and "--evidence-pack needs a signer" in r.err
    r = cli("scan", *SCAN_ARGS, "--evidence-key", "k.pem", cwd=workspace)
    assert r.code == 2 and "need --evidence-pack" in r.err
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.tar", "--evidence-key", "k", cwd=workspace)
    assert r.code == 2 and "name it *.zip" in r.err
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.zip", "--evidence-key", "nope.pem",
            cwd=workspace)  # fmt: skip
    assert r.code == 2 and "--evidence-key nope.pem: no such file" in r.err
    assert not (workspace / "p.zip").exists()


def test_unsupported_and_encrypted_keys(cli, workspace, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = workspace / "rsa.key"
    rsa_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.zip", "--evidence-key", str(rsa_key),
            cwd=workspace)  # fmt: skip
    assert r.code == 2 and "RSAPrivateKey key is not supported" in r.err
    secret = workspace / "secret.key"
    secret.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"hunter2"),
        )
    )
    monkeypatch.delenv("MODELWARD_EVIDENCE_KEY_PASSPHRASE", raising=False)
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.zip", "--evidence-key", str(secret),
            cwd=workspace)  # fmt: skip
    assert r.code == 2 and "the key is encrypted: set MODELWARD_EVIDENCE_KEY_PASSPHRASE" in r.err
    monkeypatch.setenv("MODELWARD_EVIDENCE_KEY_PASSPHRASE", "hunter2")
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.zip", "--evidence-key", str(secret),
            cwd=workspace)  # fmt: skip
    assert r.code == 1 and (workspace / "p.zip").is_file(), r.err


def test_certificate_must_certify_the_key(cli, workspace):
    ca = pki(workspace / "pki")
    other = key_pair(workspace / "keys")
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.zip", "--evidence-key", str(other.private),
            "--evidence-certificate", str(ca.leaf_cert), cwd=workspace)  # fmt: skip
    assert r.code == 2 and "does not certify the key" in r.err


def test_keyless_without_an_identity_token_is_a_usage_error(cli, workspace, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("ACTIONS_ID_TOKEN", "SIGSTORE_", "GITLAB", "BUILDKITE", "CIRCLE")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("GOOGLE_SERVICE_ACCOUNT_NAME", raising=False)  # no metadata server call
    trust = workspace / "trust.json"
    trust.write_text("{}")
    r = cli("scan", *SCAN_ARGS, "--evidence-pack", "p.zip", "--evidence-keyless",
            "--evidence-trust-config", str(trust), cwd=workspace)  # fmt: skip
    assert r.code == 2
    assert "--evidence-keyless: no OIDC identity token" in r.err


def test_verify_flags(cli, signed):
    pack, public = signed
    r = cli("evidence", "verify", str(pack))
    assert r.code == 2 and "give exactly one kind of trust" in r.err
    r = cli("evidence", "verify", str(pack), "--key", str(public), "--identity", "x")
    assert r.code == 2 and "give exactly one kind of trust" in r.err
    r = cli("evidence", "verify", str(pack), "--identity", "x")
    assert r.code == 2 and "--identity needs --issuer" in r.err
    r = cli("evidence", "verify", str(pack), "--key", "nope.pub")
    assert r.code == 2 and "--key nope.pub: no such file" in r.err


def test_archived_policies_that_do_not_load_are_named_as_the_scan_read_them(cli, signed, workspace):
    pack, public = signed

    def break_it(content: dict[str, bytes]) -> None:
        content["policies/0/few_files.yaml"] = b"id: [unclosed\n"

    resign(pack, workspace / "keys" / "release.key", break_it)
    r = verify(cli, pack, "--key", str(public))
    assert r.code == 1
    line = one_fail_line(r)
    assert "the archived scan cannot be judged again:" in line
    assert str(workspace / "pack" / "few_files.yaml") in line
    assert "modelward-evidence-" not in line  # never the private copy's path


# --- targeted, sharded and merged scans -----------------------------------------------------


def test_targeted_scan_pack_is_judged_again_on_its_target_only(cli, workspace):
    """A `--resource` scan judges what the target touches: verification judges the same set,
    so a pack of a targeted scan verifies (judging everything would add findings)."""
    keys = key_pair(workspace / "keys")
    legacy = (workspace / "models" / "legacy").resolve().as_uri()
    r = cli(
        "scan", *SCAN_ARGS, "--resource", legacy, "-o", "out", "--evidence-pack", "t.zip",
        "--evidence-key", str(keys.private), cwd=workspace,
    )  # fmt: skip
    assert r.code == 1, r.err
    document = json.loads((workspace / "out" / "results.json").read_text())
    assert {f["resource_id"] for f in document["findings"]} == {legacy}
    r = verify(cli, workspace / "t.zip", "--key", str(keys.public))
    assert r.code == 0, r.out + r.err
    assert "every verdict matches" in r.out


def test_shard_packs_verify(cli, workspace):
    """Each shard of a sharded scan can make its own pack of what it read; its results keep
    what a merge needs (`scan.shard`, `resources[].collected`) and verification judges the
    shard's resources again with the records re-derived."""
    keys = key_pair(workspace / "keys")
    read = []
    for index in (1, 2):
        r = cli(
            "scan", *SCAN_ARGS, "--shard", f"{index}/2", "-o", f"shard-{index}",
            "--evidence-pack", f"shard-{index}.zip", "--evidence-key", str(keys.private),
            cwd=workspace,
        )  # fmt: skip
        assert r.code in (0, 1), r.err
        archived = json.loads(members(workspace / f"shard-{index}.zip")[layout.RESULTS])
        assert archived["scan"]["shard"]["index"] == index
        read += archived["resources"]
        r = verify(cli, workspace / f"shard-{index}.zip", "--key", str(keys.public))
        assert r.code == 0, r.out + r.err
        assert "every verdict matches" in r.out
    # the one path source was read by exactly one shard, with its linking recorded
    assert len(read) == 2 and all(r["collected"]["added"] for r in read)


def test_merge_does_not_write_evidence_packs(cli, workspace):
    keys = key_pair(workspace / "keys")
    r = cli("scan", *SCAN_ARGS, "--shard", "1/1", "-o", "shard-1", cwd=workspace)
    assert r.code == 1, r.err
    r = cli(
        "merge", "shard-1/results.json", "--no-builtin-policies", "--policies", "pack",
        "--skip-policy", "T-GOV-*", "--evidence-pack", "m.zip", "--evidence-key",
        str(keys.private), cwd=workspace,
    )  # fmt: skip
    assert r.code == 2
    assert "merge does not write evidence packs (not implemented yet)" in r.err
    assert not (workspace / "m.zip").exists()
