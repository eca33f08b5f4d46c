"""The parts of an evidence pack on their own: member names, the hostile-zip checks, the
manifest and settings parsers, masking of what a pack archives, and the statement."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from scanner.evidence import manifest as layout
from scanner.evidence import statement
from scanner.evidence.archive import Limits, PackError, PackReader, name_problem, write_zip
from scanner.evidence.manifest import Manifest, ManifestError, entry
from scanner.evidence.pack import _redacted_config, raw_answers
from scanner.evidence.settings import SettingsError, describe_sources, parse
from scanner.inventory import Inventory, Ref, Resource


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../x", "zip slip"),
        ("a/../../x", "zip slip"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/x", "absolute path"),
        ("a\\..\\x", "backslash"),
        ("a//b", "empty or '.'"),
        ("./a", "empty or '.'"),
        ("dir/", "directory entry"),
        ("a\nb", "control characters"),
        ("", "empty name"),
    ],
)
def test_member_names_that_could_escape_are_refused(name, problem):
    found = name_problem(name)
    assert found is not None and problem in found


def test_ordinary_member_names_are_accepted():
    for name in ("results.json", "policies/0/access/mw-iam-01.yaml", "outputs/bom.cdx.json"):
        assert name_problem(name) is None


def _zip(tmp_path: Path, entries: dict[str, bytes], tweak=None) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            if tweak:
                tweak(info)
            archive.writestr(info, data)
    path = tmp_path / "p.zip"
    path.write_bytes(buffer.getvalue())
    return path


def test_encrypted_members_are_refused(tmp_path):
    path = _zip(tmp_path, {"a.txt": b"x"})
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the central directory's general purpose flag: encrypted
    path.write_bytes(bytes(data))
    with pytest.raises(PackError, match=r"'a\.txt': is encrypted"), PackReader(path):
        pass


def test_member_count_and_size_caps(tmp_path):
    path = _zip(tmp_path, {f"m{i}": b"x" for i in range(5)})
    with pytest.raises(PackError, match="5 members, over the limit of 4"):
        PackReader(path, Limits(max_members=4)).__enter__()
    path = _zip(tmp_path, {"big": b"x" * 2000})
    with pytest.raises(PackError, match="declares 2000 bytes, over 1000"):
        PackReader(path, Limits(max_member_bytes=1000)).__enter__()
    path = _zip(tmp_path, {"a": b"x" * 600, "b": b"y" * 600})
    with pytest.raises(PackError, match="over 1000 bytes in all"):
        PackReader(path, Limits(max_total_bytes=1000)).__enter__()


def test_a_member_that_lies_about_its_size_is_refused(tmp_path):
    """The central directory says 10 bytes, the data holds 100: the CRC or length check fails
    while reading, and the reader never returns more than the declared size."""
    path = _zip(tmp_path, {"a.txt": b"z" * 100})
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(data))
    with PackReader(path) as pack, pytest.raises(PackError, match=r"'a\.txt'"):
        pack.read("a.txt")


def test_reading_streams_and_hashes(tmp_path):
    path = tmp_path / "p.zip"
    path.write_bytes(write_zip({"b": b"2", "a": b"1", "m": b"0"}, first=["m"]))
    with PackReader(path) as pack:
        assert pack.names == ["m", "a", "b"]
        assert pack.read("a") == b"1"
        assert pack.sha256("b") == (entry("b", "output", b"2").sha256, 1)


def test_write_zip_refuses_a_bad_name():
    with pytest.raises(ValueError, match="zip slip"):
        write_zip({"../x": b""})


def _manifest() -> Manifest:
    return Manifest(
        "1.0",
        "scan-1",
        (entry(layout.RESULTS, "results", b"{}"), entry(layout.SETTINGS, "settings", b"{}")),
        (entry("outputs/report.html", "output", b"<html>"),),
    )


def test_manifest_round_trip_and_digest():
    manifest = _manifest()
    parsed = layout.parse(manifest.to_bytes())
    assert parsed == manifest
    assert parsed.evidence_digest == manifest.evidence_digest
    # the outputs are not part of the evidence digest: a report can show it
    other = Manifest("1.0", "scan-1", manifest.evidence, ())
    assert other.evidence_digest == manifest.evidence_digest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="zip"), "not a modelward evidence pack manifest"),
        (lambda d: d.update(version=2), "format version 2"),
        (lambda d: d["evidence"][0].update(name="../x"), "is not a member name"),
        (lambda d: d["evidence"][0].update(name="signature.sigstore.json"), "not a member name"),
        (lambda d: d["evidence"][0].update(role="output"), "does not belong in evidence"),
        (lambda d: d["evidence"][0].update(sha256="zz"), "is not a SHA-256"),
        (lambda d: d["evidence"][0].update(size=-1), "is not a byte count"),
        (lambda d: d["outputs"].append(dict(d["outputs"][0])), "twice"),
        (lambda d: d.update(evidence_digest="sha256:00"), "is not the digest of its evidence"),
    ],
)
def test_manifest_parse_refuses(change, message):
    doc = json.loads(_manifest().to_bytes())
    change(doc)
    with pytest.raises(ManifestError, match=message):
        layout.parse(json.dumps(doc).encode())


def _settings() -> dict:
    return {
        "policies": {"roots": [], "include": [], "exclude": []},
        "frameworks": {"mappings": [], "select": []},
        "gate": {
            "fail_on": "high",
            "allow_partial": False,
            "hard_fail_on": ["MW-STO-*", "critical"],
            "soft_fail_on": [],
            "soft_fail": False,
        },
        "as_of": "2026-01-01T00:00:00Z",
        "waivers": None,
        "waiver_max_days": 90,
        "baseline": None,
        "params": {},
        "sources": [],
        "outputs": {"formats": ["json"], "bom_with_findings": False},
    }


def test_settings_round_trip():
    settings = parse(_settings())
    assert settings.gate.hard_fail_on.patterns == ("MW-STO-*",)
    assert settings.gate.hard_fail_on.severities == ("critical",)
    again = parse(json.loads(json.dumps(settings.to_dict())))
    assert again == settings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["gate"].update(fail_on="everything"), "gate.fail_on"),
        (lambda d: d["gate"].update(soft_fail="yes"), "gate.soft_fail"),
        (lambda d: d["policies"].update(roots=[{"member": 1}]), "policies.roots"),
        (lambda d: d.update(params=[]), "params"),
        (lambda d: d.update(waiver_max_days=True), "waiver_max_days"),
        (lambda d: d.update(waivers={"member": "inputs/w"}), "waivers.origin"),
        (lambda d: d.pop("gate"), "gate is not an object"),
    ],
)
def test_settings_parse_refuses(change, message):
    doc = _settings()
    change(doc)
    with pytest.raises(SettingsError, match=message):
        parse(doc)


def test_sources_are_described_with_credentials_masked():
    [described] = describe_sources(
        [
            {
                "name": "registry",
                "kind": "mlflow",
                "target": "https://alice:s3cret@mlflow.acme.test/",
                "options": {"token": "abc", "region": "eu-west-1", "trust": Path("/k.pub")},
            }
        ]
    )
    text = json.dumps(described)
    assert "s3cret" not in text and "abc" not in text
    assert described["options"]["region"] == "eu-west-1"
    assert described["options"]["trust"] == "/k.pub"


def test_raw_answers_of_cited_resources_only_and_masked():
    presigned = (
        "https://b.s3.amazonaws.com/m.pkl?X-Amz-Credential=AKIA%2F&X-Amz-Signature=deadbeef"
        "&X-Amz-Security-Token=tok"
    )
    inventory = Inventory(
        [
            Resource(
                "s3://b/m",
                "artefact",
                "m",
                "aws",
                {"storage": Ref("s3://b")},
                raw={"Location": presigned, "SecretAccessKey": "wJalr", "Size": 3},
            ),
            Resource("s3://b", "storage", "b", "aws", {}, raw={"Policy": {"Sid": "x"}}),
            Resource("s3://other", "storage", "o", "aws", {}, raw={"unrelated": True}),
        ]
    )
    document = {"findings": [{"resource_id": "s3://b/m"}]}
    answers = raw_answers(document, inventory)["resources"]
    assert set(answers) == {"s3://b/m", "s3://b"}  # the finding's resource and what it reaches
    text = json.dumps(answers)
    for secret in ("deadbeef", "AKIA", "tok&", "wJalr"):
        assert secret not in text
    assert answers["s3://b/m"]["raw"]["Size"] == 3


def test_config_is_archived_with_secrets_masked(tmp_path):
    config = tmp_path / "modelward.yaml"
    config.write_text(
        "# a comment\n"
        "sources:\n"
        "  - spec: mlflow:https://bob:hunter2@mlflow.acme.test\n"
        "    options: {api_token: xyz, password: p4ss}\n"
        "gate: {fail_on: high}\n"
    )
    text = _redacted_config(config).decode()
    for secret in ("hunter2", "xyz", "p4ss"):
        assert secret not in text
    assert "fail_on: high" in text and "***" in text


def test_statement_subjects_cover_every_member_and_the_manifest():
    manifest = _manifest()
    body = manifest.to_bytes()
    signed = statement.parse(
        statement.PAYLOAD_TYPE, statement.build(manifest.entries, body, {"scan": {"id": "x"}})
    )
    subjects = statement.subjects(signed)
    assert set(subjects) == {e.name for e in manifest.entries} | {layout.MANIFEST}
    with pytest.raises(statement.StatementError, match="not an in-toto statement"):
        statement.parse("text/plain", b"{}")
    with pytest.raises(statement.StatementError, match="not a modelward evidence pack"):
        statement.parse(
            statement.PAYLOAD_TYPE,
            json.dumps({**signed, "predicateType": "https://slsa.dev/provenance/v1"}).encode(),
        )
