"""Credentials never reach evidence: URIs in any string, secret-named keys in provider data."""

from __future__ import annotations

import datetime as dt

import pytest

from scanner import results
from scanner.findings import Finding
from scanner.inventory import Inventory, Ref, Resource
from scanner.outputs.registry import WRITERS, writers_for
from scanner.policy.evaluate import evaluate_all
from scanner.redact import redact, redact_text, redact_uri
from scanner.scan import ScanRequest, load_pack


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://alice:hunter2@mlflow.example/api", "https://***@mlflow.example/api"),
        (
            "https://b.s3.amazonaws.com/m.pt?X-Amz-Credential=AKIA/x&X-Amz-Signature=abc&x-id=Get",
            "https://b.s3.amazonaws.com/m.pt?X-Amz-Credential=***&X-Amz-Signature=***&x-id=Get",
        ),
        (
            "https://acct.blob.core.windows.net/c/m?sv=2024&sig=SECRET%2B&se=2026",
            "https://acct.blob.core.windows.net/c/m?sv=2024&sig=***&se=2026",
        ),
        (
            "https://storage.googleapis.com/b/o?X-Goog-Signature=ff&X-Goog-Date=1",
            "https://storage.googleapis.com/b/o?X-Goog-Signature=***&X-Goog-Date=1",
        ),
        ("s3://bucket/prefix/model.safetensors", "s3://bucket/prefix/model.safetensors"),
        ("https://wiki.example/page?id=42", "https://wiki.example/page?id=42"),
    ],
)
def test_redact_uri(uri, expected):
    assert redact_uri(uri) == expected
    assert redact_uri(expected) == expected  # idempotent


def test_redact_text_finds_uris_inside_prose():
    text = "trained from postgres://etl:pw@db:5432/x and https://h/p?token=t1 on monday"
    assert (
        redact_text(text)
        == "trained from postgres://***@db:5432/x and https://h/p?token=*** on monday"
    )


def test_key_masking_is_opt_in():
    tags = {"owner": "team", "api_token": "abc", "signature": {"present": True}, "note": None}
    assert redact(tags) == tags
    assert redact(tags, mask_keys=True) == {
        "owner": "team",
        "api_token": "***",
        "signature": "***",
        "note": None,
    }


def _document(resources: list, findings: list, **extra: object) -> dict:
    """A results document of `resources` and `findings` with a failed gate."""
    return results.build(
        scan={
            "id": "x",
            "started_at": "2026-01-01T00:00:00Z",
            "finished_at": "2026-01-01T00:00:00Z",
            "sources": [],
            "policy_pack": {"count": 0, "sha256": "0" * 64},
            "params": {},
        },
        resources=resources,
        findings=findings,
        frameworks=[],
        maturity={"level": "foundational", "next": "applied", "rungs": []},
        gate={"fail_on": "high", "allow_partial": False, "exit_code": 1, "passed": False,
              "reasons": []},
        **extra,
    )  # fmt: skip


def test_results_never_carry_credentials_in_uris():
    secret = "https://u:p@host/x?sig=abc"
    resource = Resource(
        "r", "artefact", "r", "path:x", {"uri": secret, "signature": {"present": True}}
    )
    finding = Finding(
        "P",
        "t",
        "high",
        "applied",
        "r",
        "artefact",
        "r",
        "fail",
        f"uri is {secret}",
        {"uri": secret},
    )
    doc = _document([resource], [finding])
    text = results.dumps(doc)
    assert "u:p@" not in text and "sig=abc" not in text
    assert doc["resources"][0]["attributes"]["signature"] == {"present": True}


def test_lone_surrogates_in_results_become_replacement_characters():
    from scanner import results

    text = results.dumps({"tag": "evil\udcff\ud800end"})
    assert "evil\ufffd\ufffdend" in text
    text.encode("utf-8")  # must not raise


SECRET = "c0ffee5ecret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"copied from ?X-Amz-Signature={SECRET}", "copied from ?X-Amz-Signature=***"),
        (f"X-Amz-Signature={SECRET}&X-Amz-Date=1", "X-Amz-Signature=***&X-Amz-Date=1"),
        (f"see X-Goog-Signature={SECRET} there", "see X-Goog-Signature=*** there"),
        (f"sas: sv=2024&sig={SECRET}%2B&se=2026", "sas: sv=2024&sig=***&se=2026"),
        (f"x-amz-security-token={SECRET}", "x-amz-security-token=***"),
        (f"Authorization: Bearer {SECRET}.abc-def=", "Authorization: Bearer ***"),
        (f"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{SECRET}", "token ***"),
        ("model.sig, design=fine, max_tokens=5", "model.sig, design=fine, max_tokens=5"),
    ],
)
def test_bare_signatures_and_tokens_are_redacted_wherever_they_stand(text, expected):
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent


def test_a_bare_signature_in_a_tag_reaches_no_output():
    """A pre-signed URL's signature pasted into a registry tag, outside any URL, is masked in
    results.json, the reports and both BOMs."""
    tag = f"copied from ?X-Amz-Signature={SECRET}&X-Amz-Date=20260101"
    model = Resource(
        "mlflow+http://h/models/m",
        "model",
        "m",
        "mlflow",
        {"provider": "mlflow", "tags": {"note": tag}, "description": f"Bearer {SECRET}"},
    )
    version = Resource(
        "mlflow+http://h/models/m/versions/1",
        "model_version",
        "m/1",
        "mlflow",
        {
            "provider": "mlflow",
            "model": Ref(model.id),
            "version": "1",
            "stage": "production",
            "tags": {"note": tag},
            "source_uri": f"s3://b/m sig={SECRET}",
        },
    )
    pack = load_pack(ScanRequest(sources=()))
    inventory = Inventory([model, version])
    findings = evaluate_all(pack.policies, inventory, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    doc = _document(list(inventory), findings, policies=pack.policies)
    rendered = {}
    for writer in writers_for(sorted(WRITERS)):
        rendered.update(writer.render(doc))
    assert {"results.json", "report.html", "bom.cdx.json", "bom.spdx.json"} <= set(rendered)
    leaked = [name for name, content in rendered.items() if SECRET.encode() in content]
    assert not leaked
