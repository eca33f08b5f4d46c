"""`modelward verify s3://...` against a real moto server on loopback (no in-process mocks)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.corpus import GLOBAL_OS_SYSTEM
from tests.helpers import run_subprocess
from tests.signing import key_pair, model_dir, sign_with_key

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto server did not start")
    env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    yield env
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def estate(moto, tmp_path_factory):
    """Bucket `models`: fraud/ signed and clean, tampered/ changed after signing, one signed
    single-file pickle model, and a key outside the download directory."""
    import boto3

    root = tmp_path_factory.mktemp("estate")
    keys = key_pair(root / "keys")
    s3 = boto3.client(
        "s3",
        endpoint_url=moto["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="models")
    for name in ("fraud", "tampered"):
        model = model_dir(root, name)
        sign_with_key(model, keys)
        if name == "tampered":
            (model / "config.json").write_text('{"arch": "swapped"}')
        for path in model.rglob("*"):
            if path.is_file():
                s3.put_object(
                    Bucket="models",
                    Key=f"{name}/{path.relative_to(model).as_posix()}",
                    Body=path.read_bytes(),
                )
    single = root / "legacy.pkl"
    single.write_bytes(GLOBAL_OS_SYSTEM)
    sign_with_key(single, keys)
    s3.put_object(Bucket="models", Key="single/legacy.pkl", Body=single.read_bytes())
    s3.put_object(
        Bucket="models", Key="single/legacy.pkl.sig", Body=Path(f"{single}.sig").read_bytes()
    )
    s3.put_object(Bucket="models", Key="escape/../../etc/x", Body=b"x")
    return keys


@pytest.fixture
def verify(moto, cli, monkeypatch):
    """The CLI in-process against the moto server (one test below runs a real process)."""
    for name, value in moto.items():
        monkeypatch.setenv(name, value)
    return lambda *args: cli("verify", *args)


def test_signed_model_in_s3_verifies(verify, estate) -> None:
    r = verify("s3://models/fraud", "--key", str(estate.public))
    assert r.code == 0, r.out + r.err
    assert r.out.startswith("verified s3://models/fraud: signed by key release.pub")


def test_tampered_model_in_s3_fails(verify, estate) -> None:
    r = verify("s3://models/tampered/", "--key", str(estate.public), "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["model"] == "s3://models/tampered"
    assert doc["signature"]["error"] == "files do not match the signature: changed: config.json"


def test_single_object_with_detached_signature(verify, estate) -> None:
    r = verify("s3://models/single/legacy.pkl", "--key", str(estate.public), "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["signature"]["verified"] is True
    assert [u["global"] for u in doc["serialization"]["unsafe"]] == ["os.system"]


def test_over_the_byte_budget_is_unknown_exit_3(verify, estate) -> None:
    r = verify("s3://models/fraud", "--key", str(estate.public), "--max-bytes", "100")
    assert r.code == 3
    assert "not verified: at least" in r.out and "over the byte budget of 100" in r.out
    assert r.out.rstrip().endswith("could not be verified")


def test_unsafe_keys_are_refused(verify, estate) -> None:
    r = verify("s3://models/escape", "--key", str(estate.public))
    assert r.code == 3 and "is not a safe relative path" in r.err


def test_missing_bucket_and_prefix(verify, estate) -> None:
    r = verify("s3://no-such-bucket/m", "--key", str(estate.public))
    assert r.code == 3 and "NoSuchBucket" in r.err
    r = verify("s3://models/nothing-here", "--key", str(estate.public))
    assert r.code == 2 and "no objects under this prefix" in r.err


def test_real_process(moto, estate) -> None:
    env = {**moto, "HOME": os.environ.get("HOME", "/root")}
    r = run_subprocess("verify", "s3://models/fraud", "--key", str(estate.public), "-q", env=env)
    assert (r.code, r.out, r.err) == (0, "", "")


def test_several_models_exit_with_the_highest_code(verify, estate, tmp_path) -> None:
    """A local model that must not be deployed (1), then an S3 model over the budget (3)."""
    local = tmp_path / "head.pkl"
    local.write_bytes(GLOBAL_OS_SYSTEM)
    sign_with_key(local, estate)
    r = verify(str(local), "s3://models/fraud", "--key", str(estate.public), "--max-bytes", "100")
    assert r.code == 3, r.out + r.err
    assert f"1 problem(s): {local} must not be deployed" in r.out
    assert r.out.rstrip().endswith("1 problem(s): s3://models/fraud could not be verified")
