"""The oci:, oci-layout: and docker-archive: sources against a real Distribution 2.8 registry
on loopback, with images built here: weights, a malicious pickle, a signed and an unsigned
image, a model deleted by a whiteout, a multi-platform index, zstd layers, token auth."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.artefacts.signatures.trust import KeyTrust, TrustPolicy, TrustSet
from scanner.inventory import Unknown
from scanner.sources.interface import SourceError, SourceSpec
from scanner.sources.oci.source import OciSource
from tests import oci_images as oi
from tests.servers import oci_registry
from tests.signing import key_pair

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not oci_registry.available() and not os.environ.get("CI"),
        reason="docker-registry is not installed (apt-get install docker-registry)",
    ),
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("oci")
    keys = key_pair(root / "keys", "release")
    with oci_registry.registry(root / "plain") as reg:
        app = oi.tar_layer({"app/server.py": b"print('serve')\n", "app/requirements.txt": b"x\n"})
        bert = oi.image([app, oi.tar_layer({"models/bert/model.safetensors": oi.weights()})])
        evil = oi.image([app, oi.tar_layer({"models/fraud/model.pkl": oi.evil_pickle()})])
        deleted = oi.image(
            [
                app,
                oi.tar_layer({"tmp/weights/secret.safetensors": oi.weights(b"\x01" * 32)}),
                oi.tar_layer({}, whiteouts=("tmp/weights",)),
            ]
        )
        zstd = oi.image(
            [oi.tar_layer({"opt/ml/model/model.pt.safetensors": oi.weights()}, compression="zstd")]
        )
        arm = oi.image(
            [oi.tar_layer({"models/m.safetensors": oi.weights()})], platform=("linux", "arm64")
        )
        multi = oi.index([(bert, ("linux", "amd64")), (arm, ("linux", "arm64"))])
        plain = oi.image([app])  # no model at all
        oi.push(reg.base, "serving/bert", "1.0", bert)
        oi.push(reg.base, "serving/bert", "latest", bert)
        oi.push(reg.base, "serving/fraud", "2", evil)
        oi.push(reg.base, "serving/cleaned", "1", deleted)
        oi.push(reg.base, "serving/zstd", "1", zstd)
        oi.push(reg.base, "serving/multi", "1", multi)
        oi.push(reg.base, "serving/web", "1", plain)
        oi.push(reg.base, "other/x", "1", plain)
        signature = oi.cosign_signature(bert, f"{reg.host}/serving/bert", keys.private)
        oi.push(reg.base, "serving/bert", oi.signature_tag(bert), signature)
        yield {
            "reg": reg,
            "keys": keys,
            "bert": bert,
            "evil": evil,
            "deleted": deleted,
            "multi": multi,
            "arm": arm,
            "root": root,
        }


def _collect(target: str, **options: object) -> dict[str, object]:
    spec = SourceSpec("oci", target, f"oci:{target}", options)
    got = OciSource(spec).collect(lambda _: None)
    return {r.id: r for r in got.resources} | {"problems": got.problems}  # type: ignore[return-value]


def _trusted(keys: oi.Path) -> TrustPolicy:  # type: ignore[name-defined]
    return TrustPolicy(TrustSet(keys=(KeyTrust(keys),)))


def test_namespace_scan_finds_weights_in_each_image_and_skips_plain_images(estate) -> None:
    reg = estate["reg"]
    found = _collect(f"{reg.host}/serving")
    artefacts = {k: v for k, v in found.items() if k != "problems" and v.type == "artefact"}
    repos = {k.split("@")[0].rsplit("/", 1)[1] for k in artefacts}
    assert repos == {"bert", "fraud", "cleaned", "zstd", "multi"}  # web has no model: no artefact
    bert = found[f"oci://{reg.host}/serving/bert@{estate['bert'].digest}"]
    files = bert.attributes["files"]
    assert [f["path"] for f in files] == ["models/bert/model.safetensors"]
    assert files[0]["format"] == "safetensors" and len(files[0]["sha256"]) == 64
    assert files[0]["layer"] == json.loads(estate["bert"].manifest)["layers"][1]["digest"]
    assert sorted(bert.attributes["references"]) == [
        f"{reg.host}/serving/bert:1.0",
        f"{reg.host}/serving/bert:latest",
    ]
    assert bert.attributes["storage"].id == f"oci://{reg.host}/serving/bert"
    storage = found[f"oci://{reg.host}/serving/bert"]
    assert storage.type == "storage" and storage.attributes["public"] is True
    assert storage.attributes["holds_models"] is True
    web = found[f"oci://{reg.host}/serving/web"]
    assert web.attributes["holds_models"] is False and web.attributes["image_count"] == 1
    assert f"oci://{reg.host}/other/x" not in found
    assert found["problems"] == ()


def test_malicious_pickle_in_a_layer_is_scanned(estate) -> None:
    reg = estate["reg"]
    found = _collect(f"{reg.host}/serving/fraud:2")
    art = found[f"oci://{reg.host}/serving/fraud@{estate['evil'].digest}"]
    ser = art.attributes["serialization"]
    assert ser["pickle_based"] is True and ser["formats"] == ["pickle"]
    assert any(u["global"] in ("posix.system", "os.system") for u in ser["unsafe"])


def test_whiteout_deleted_model_still_ships(estate) -> None:
    reg = estate["reg"]
    found = _collect(f"{reg.host}/serving/cleaned:1")
    art = found[f"oci://{reg.host}/serving/cleaned@{estate['deleted'].digest}"]
    layers = json.loads(estate["deleted"].manifest)["layers"]
    assert art.attributes["files"] == []
    (removed,) = art.attributes["removed_model_files"]
    assert removed["path"] == "tmp/weights/secret.safetensors"
    assert removed["how"] == "whiteout" and removed["format"] == "safetensors"
    assert removed["layer"] == layers[1]["digest"] and removed["removed_by"] == layers[2]["digest"]


def test_index_gives_one_artefact_per_platform_and_platforms_filter(estate) -> None:
    reg = estate["reg"]
    found = _collect(f"{reg.host}/serving/multi:1")
    ids = sorted(k for k in found if k != "problems" and found[k].type == "artefact")
    assert ids == sorted(
        f"oci://{reg.host}/serving/multi@{d}" for d in (estate["bert"].digest, estate["arm"].digest)
    )
    arm = found[f"oci://{reg.host}/serving/multi@{estate['arm'].digest}"]
    assert arm.attributes["image"]["platform"] == "linux/arm64"
    assert arm.attributes["image"]["index_digest"] == estate["multi"].digest
    only = _collect(f"{reg.host}/serving/multi:1", platforms=["linux/arm64"])
    assert [k for k in only if k != "problems" and only[k].type == "artefact"] == [
        f"oci://{reg.host}/serving/multi@{estate['arm'].digest}"
    ]


def test_zstd_layers_are_read(estate) -> None:
    found = _collect(f"{estate['reg'].host}/serving/zstd:1")
    (art,) = [v for k, v in found.items() if k != "problems" and v.type == "artefact"]
    assert art.attributes["serialization"]["formats"] == ["safetensors"]


def test_cosign_signature_verifies_with_the_trusted_key_only(estate, tmp_path) -> None:
    reg, keys = estate["reg"], estate["keys"]
    target = f"{reg.host}/serving/bert:1.0"
    art_id = f"oci://{reg.host}/serving/bert@{estate['bert'].digest}"
    trusted = _collect(target, trust=_trusted(keys.public))[art_id].attributes["signature"]
    assert trusted["present"] is True and trusted["verified"] is True
    assert trusted["kind"] == "cosign" and trusted["file"].startswith("tag sha256-")
    other = key_pair(tmp_path, "other")
    wrong = _collect(target, trust=_trusted(other.public))[art_id].attributes["signature"]
    assert (
        wrong["verified"] is False and "not signed by the trusted key other.pub" in wrong["error"]
    )
    untrusted = _collect(target)[art_id].attributes["signature"]
    assert isinstance(untrusted["verified"], Unknown)
    unsigned = _collect(f"{reg.host}/serving/fraud:2", trust=_trusted(keys.public))
    sig = unsigned[f"oci://{reg.host}/serving/fraud@{estate['evil'].digest}"].attributes[
        "signature"
    ]
    assert sig["present"] is False and sig["verified"] is False


def test_budget_over_leaves_the_image_unknown(estate) -> None:
    reg = estate["reg"]
    found = _collect(f"{reg.host}/serving/bert:1.0", max_image_bytes=1000)
    art = found[f"oci://{reg.host}/serving/bert@{estate['bert'].digest}"]
    assert art.attributes["listing_truncated"] is True
    assert isinstance(art.attributes["serialization"]["unsafe"], Unknown)
    assert "max_image_bytes" in art.attributes["layers_unread"][0]["reason"]


def test_token_auth_private_repository(tmp_path) -> None:
    with oci_registry.registry(tmp_path / "tok", token_auth=True) as reg:
        img = oi.image([oi.tar_layer({"models/m.safetensors": oi.weights()})])
        oi.push(reg.base, "public/bert", "1", img, reg.auth)
        oi.push(reg.base, "private/bert", "1", img, reg.auth)
        config = tmp_path / "docker.json"
        config.write_text(
            json.dumps({"auths": {reg.host: {"auth": base64.b64encode(b"ci:secret").decode()}}})
        )
        with_creds = _collect(reg.host, docker_config=str(config))
        assert with_creds[f"oci://{reg.host}/private/bert"].attributes["public"] is False
        assert with_creds[f"oci://{reg.host}/public/bert"].attributes["public"] is True
        assert f"oci://{reg.host}/private/bert@{img.digest}" in with_creds
        (tmp_path / "empty.json").write_text("{}")
        # Anonymous: the catalog is refused, so the registry as a whole cannot be read.
        with pytest.raises(SourceError, match="pull access denied anonymously"):
            _collect(reg.host, docker_config=str(tmp_path / "empty.json"))
        # A single private repository, anonymously: nothing readable -> the source fails.
        with pytest.raises(SourceError, match="denied"):
            _collect(f"{reg.host}/private/bert:1", docker_config=str(tmp_path / "empty.json"))
        public = _collect(f"{reg.host}/public/bert:1", docker_config=str(tmp_path / "empty.json"))
        assert f"oci://{reg.host}/public/bert@{img.digest}" in public


def test_unreachable_registry_is_a_source_error(tmp_path) -> None:
    from tests.servers.moto import free_port

    with pytest.raises(SourceError, match="unreachable"):
        _collect(f"127.0.0.1:{free_port()}/x:1")


def test_oci_layout_and_docker_archive(tmp_path) -> None:
    weights = oi.tar_layer({"models/m.safetensors": oi.weights()}, compression="none")
    evil = oi.tar_layer({"models/p/model.pkl": oi.evil_pickle()})
    layout = oi.write_layout(
        tmp_path / "layout", {"v1": oi.image([weights]), "v2": oi.image([evil])}
    )
    got = OciSource(SourceSpec("oci-layout", str(layout), "layout")).collect(lambda _: None)
    arts = {r.name: r for r in got.resources}
    assert set(arts) == {"layout:v1", "layout:v2"}
    assert arts["layout:v2"].attributes["serialization"]["pickle_based"] is True
    assert arts["layout:v1"].attributes["location"]["provider"] == "local"
    one = OciSource(SourceSpec("oci-layout", f"{layout}:v1", "layout")).collect(lambda _: None)
    assert [r.name for r in one.resources] == ["layout:v1"]
    archive = oi.write_docker_archive(tmp_path / "img.tar", [weights[0]], ["serving/bert:1.0"])
    got = OciSource(SourceSpec("docker-archive", str(archive), "archive")).collect(lambda _: None)
    (art,) = got.resources
    assert art.attributes["files"][0]["path"] == "models/m.safetensors"
    assert art.attributes["references"] == ["serving/bert:1.0"]
    with pytest.raises(SourceError, match=r"not a tar archive|no manifest\.json"):
        bad = tmp_path / "bad.tar"
        bad.write_bytes(b"not a tar")
        OciSource(SourceSpec("docker-archive", str(bad), "archive")).collect(lambda _: None)
    with pytest.raises(SourceError, match="not an OCI image layout"):
        OciSource(SourceSpec("oci-layout", str(tmp_path), "layout")).collect(lambda _: None)


def test_scan_end_to_end_shows_images_in_findings_report_and_bom(estate, tmp_path) -> None:
    reg = estate["reg"]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scanner", "scan", "--source", f"oci:{reg.host}/serving"]
    done = subprocess.run(
        [*cmd, "-o", str(out), "--format", "json,html,md"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode in (1, 3), done.stderr
    results = json.loads((out / "results.json").read_text())
    failed = {
        (f["policy_id"], f["resource_id"]) for f in results["findings"] if f["status"] == "fail"
    }
    fraud = f"oci://{reg.host}/serving/fraud@{estate['evil'].digest}"
    assert ("MW-INT-03", fraud) in failed  # the malicious pickle
    assert ("MW-STO-01", f"oci://{reg.host}/serving/bert") in failed  # anyone can pull
    inv = {f["resource_id"]: f for f in results["findings"] if f["policy_id"] == "MW-INV-03"}
    assert fraud in inv  # an image with model files is an artefact that wants a registry entry
    report = (out / "report.md").read_text()
    assert "`MW-INT-03` | `serving/fraud:2`" in report
    bom_file = tmp_path / "bom.json"
    bom = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner",
            "bom",
            "--source",
            f"oci:{reg.host}/serving",
            "-o",
            str(bom_file),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert bom.returncode == 0, bom.stderr
    text = bom_file.read_text()
    assert estate["bert"].digest in text and "serving/fraud" in text


def test_layout_signatures_by_tag_and_by_the_referrers_tag_schema(tmp_path) -> None:
    keys = key_pair(tmp_path / "keys")
    trust = _trusted(keys.public)
    weights = oi.tar_layer({"models/m.safetensors": oi.weights()})
    by_tag, by_index = oi.image([weights]), oi.image([weights], labels={"v": "2"})
    sig_tag = oi.cosign_signature(by_tag, "layout", keys.private)
    sig_ref = oi.cosign_signature(by_index, "layout", keys.private)
    # OCI 1.1's fallback for registries without the referrers API: an index tagged
    # sha256-HEX that lists the referrers (here, the signature manifest).
    referrers = oi.Image(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": oi.OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": oi.OCI_MANIFEST,
                        "digest": sig_ref.digest,
                        "size": len(sig_ref.manifest),
                    }
                ],
            }
        ).encode(),
        media_type=oi.OCI_INDEX,
        children=[sig_ref],
    )
    layout = oi.write_layout(
        tmp_path / "layout",
        {
            "v1": by_tag,
            oi.signature_tag(by_tag): sig_tag,
            "v2": by_index,
            by_index.digest.replace(":", "-"): referrers,
        },
    )
    got = OciSource(SourceSpec("oci-layout", str(layout), "layout", {"trust": trust})).collect(
        lambda _: None
    )
    sigs = {r.name: r.attributes["signature"] for r in got.resources}
    assert sigs["layout:v1"]["verified"] is True and sigs["layout:v1"]["file"].endswith(".sig")
    assert sigs["layout:v2"]["verified"] is True
    assert sigs["layout:v2"]["file"] == f"referrer {sig_ref.digest}"
