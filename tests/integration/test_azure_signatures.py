"""Signatures of models in Azure Blob Storage, verified in place by the shared object-store
builder, against Azurite (a server of its own, so the twin estate of test_azure_source.py
stays as that module's read-only checks expect it).

The Blob service keeps no SHA-256 of a blob (only a Content-MD5), so every verdict here comes
from reading the signed files once within `integrity_max_bytes`, or is Unknown with the sizes.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from scanner.artefacts.signatures.trust import KeyTrust, TrustPolicy, TrustSet
from scanner.config import with_trust
from scanner.demo.azurite import azurite, make_tls, missing
from scanner.demo.registry_estate import safetensors_bytes
from scanner.inventory import Resource, Unknown
from scanner.sources.registry import build_source, parse_spec
from tests.signing import key_pair, sign_with_key
from tests.standards import in_ci

pytestmark = pytest.mark.slow

ACCOUNT = "mwsigned"
KEYS = {ACCOUNT: base64.b64encode(b"azurite key of the signed-models account").decode()}
WEIGHTS = safetensors_bytes(64 * 1024)  # more than the small budget below


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    """Azurite with one container: a signed model, the same model with a file changed after
    signing, and an unsigned one. Yields (server, trust)."""
    message = missing()
    if message is not None:  # CI must run these (.ci/run installs npm)
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    from azure.storage.blob import BlobServiceClient

    root = tmp_path_factory.mktemp("azure-signatures")
    tls = make_tls(root / "tls")
    keys = key_pair(root / "keys")
    model = root / "fraud"
    model.mkdir()
    (model / "model.safetensors").write_bytes(WEIGHTS)
    (model / "config.json").write_text('{"arch": "mlp"}')
    sign_with_key(model, keys)
    with azurite(root / "azurite", tls, KEYS) as server:
        os.environ["REQUESTS_CA_BUNDLE"] = str(tls.cert)
        try:
            service = BlobServiceClient.from_connection_string(server.connection_string(ACCOUNT))
            models = service.create_container("models")
            for f in sorted(model.iterdir()):
                models.upload_blob(f"signed/v1/{f.name}", f.read_bytes())
                changed = b'{"arch": "other"}' if f.name == "config.json" else f.read_bytes()
                models.upload_blob(f"tampered/v1/{f.name}", changed)
                if f.name != "model.sig":
                    models.upload_blob(f"unsigned/v1/{f.name}", f.read_bytes())
            yield server, TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))
        finally:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)


def _signatures(estate, monkeypatch, **options: Any) -> dict[str, Any]:
    server, trust = estate
    for name in [k for k in os.environ if k.startswith(("AZURE_", "MSI_", "IMDS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string(ACCOUNT))
    # The config loader's own hand-over of integrity.trust, as a scan does it.
    spec = with_trust(parse_spec(f"azure:account={ACCOUNT},max_attempts=2", options=options), trust)
    collection = build_source(spec).collect(lambda _line: None)
    assert collection.problems == ()
    found: dict[str, Resource] = {r.id: r for r in collection.resources}
    prefix = f"azure://{ACCOUNT}/models/"
    return {
        rid.removeprefix(prefix): r.attributes["signature"]
        for rid, r in found.items()
        if r.type == "artefact" and rid.startswith(prefix)
    }


def test_signed_and_tampered_models_in_blob_storage_are_verified_in_place(estate, monkeypatch):
    signatures = _signatures(estate, monkeypatch)
    signed = signatures["signed/v1"]
    assert signed["verified"] is True, signed
    assert signed["digests_from"] == "read"
    tampered = signatures["tampered/v1"]
    assert tampered["verified"] is False
    assert tampered["error"] == "files do not match the signature: changed: config.json"
    assert (signatures["unsigned/v1"]["present"], signatures["unsigned/v1"]["verified"]) == (
        False,
        False,
    )


def test_over_the_budget_a_blob_model_is_unknown_with_the_sizes(estate, monkeypatch):
    signatures = _signatures(estate, monkeypatch, integrity_max_bytes=4096)
    assert signatures["signed/v1"]["verified"] == Unknown(
        "model is 65.6 KiB; budget 4.0 KiB: raise integrity_max_bytes "
        "(azure source option) or verify in the pipeline"
    )


def test_the_trust_option_comes_only_from_the_config(estate):
    from scanner.errors import UsageError

    with pytest.raises(UsageError, match=r"trust must come from the config's integrity\.trust"):
        build_source(parse_spec(f"azure:account={ACCOUNT}", options={"trust": "release.pub"}))
