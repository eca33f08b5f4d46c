"""Remediation per provider: which provider a resource belongs to, which steps it gets, and that
every writer shows the failing resource's provider's steps (the neutral text for the rest)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scanner import results
from scanner.findings import Finding
from scanner.inventory import Resource
from scanner.outputs import remediation
from scanner.outputs.csv_writer import render_csv
from scanner.outputs.html_writer import render_html
from scanner.outputs.junit_writer import JunitWriter
from scanner.outputs.md_writer import render_markdown
from scanner.outputs.sarif_writer import SarifWriter
from scanner.policy.loader import parse_policy
from scanner.schemas import load_schema
from scanner.yamlpos import load_yaml_text
from tests.helpers import make_document

# --- one provider per resource -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rid", "expected"),
    [
        ("s3://models", "aws"),
        ("s3://models/fraud/v3", "aws"),
        ("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/fraud", "aws"),
        ("arn:aws-us-gov:iam::123456789012:role/reader", "aws"),
        ("aws-guardduty://123456789012/eu-west-1", "aws"),
        ("oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/serving/fraud", "aws"),
        ("oci://public.ecr.aws/acme/fraud", "aws"),
        ("gs://acme-models", "gcp"),
        ("gs://acme-models/fraud/v3", "gcp"),
        ("//aiplatform.googleapis.com/projects/42/locations/europe-west4/models/7", "gcp"),
        ("gcp-audit-logs://acme-ml/storage.googleapis.com", "gcp"),
        ("user:alice@example.com", "gcp"),
        ("serviceAccount:serving@acme-ml.iam.gserviceaccount.com", "gcp"),
        ("allUsers", "gcp"),
        ("oci://europe-west4-docker.pkg.dev/acme-ml/serving/fraud", "gcp"),
        ("oci://gcr.io/acme-ml/fraud", "gcp"),
        ("azure://mlmodels/weights", "azure"),
        ("azure://mlmodels/weights/fraud/v3", "azure"),
        ("azure-principal://00000000-0000-0000-0000-000000000001", "azure"),
        ("azure-defender://mlmodels", "azure"),
        ("/subscriptions/0000/resourceGroups/ml/providers/Microsoft.Insights/x", "azure"),
        ("oci://acme.azurecr.io/serving/fraud", "azure"),
        ("oci://harbor.example.com/models/fraud", "oci"),
        ("oci://localhost:5000/models/fraud@sha256:" + "a" * 64, "oci"),
        ("file:///srv/models/fraud", "local"),
        ("oci-layout:/srv/image@sha256:" + "b" * 64, "local"),
        ("docker-archive:/srv/image.tar@sha256:" + "c" * 64, "local"),
        ("mlflow+http://mlflow:5000/models/fraud", None),
        ("attestation:threat_model:tm-1", None),
        ("*", None),
    ],
)
def test_the_id_alone_names_the_provider_where_it_can(rid: str, expected: str | None) -> None:
    assert remediation.resource_provider(rid) == expected


def test_attributes_then_the_source_kind_decide_when_the_id_cannot() -> None:
    sagemaker = {"attributes": {"provider": "sagemaker"}}
    vertex = {"attributes": {"provider": "vertex"}}
    local_artefact = {"attributes": {"location": {"provider": "local", "path": "/m"}}}
    gcs_artefact = {"attributes": {"location": {"provider": "gcs", "bucket": "b"}}}
    assert remediation.resource_provider("model-x", sagemaker) == "aws"
    assert remediation.resource_provider("model-x", vertex) == "gcp"
    assert remediation.resource_provider("dir", local_artefact) == "local"
    assert remediation.resource_provider("dir", gcs_artefact) == "gcp"
    # MLflow runs anywhere: its resources have no provider of their own.
    assert remediation.resource_provider("m", {"attributes": {"provider": "mlflow"}}) is None
    # "*" (anyone) reported by the azure: source is an Azure reader; by the aws: source, AWS's.
    assert remediation.resource_provider("*", {"attributes": {}}, "azure") == "azure"
    assert remediation.resource_provider("*", {"attributes": {}}, "aws") == "aws"
    assert remediation.resource_provider("*", {"attributes": {}}, "mlflow") is None
    # the id wins over an attribute: an ECR repository read by the oci: source is AWS's.
    ecr = "oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/r"
    assert remediation.resource_provider(ecr, {"attributes": {"provider": "oci"}}, "oci") == "aws"


# --- which steps ---------------------------------------------------------------------------------

FIX = {
    "summary": "Make the storage private.",
    "cli": "modelward scan --source SOURCE",
    "providers": {
        "aws": {"summary": "Block public access.", "cli": "aws s3api put-public-access-block"},
        "azure": {
            "summary": "Disallow anonymous blob access.",
            "cli": "az storage account update --allow-blob-public-access false",
            "terraform": "allow_nested_items_to_be_public = false",
        },
        "gcp": {"cli": "gcloud storage buckets update gs://B --public-access-prevention"},
    },
    "providers_note": "Container registry: see the registry's own settings.",
}


def test_steps_are_the_neutral_ones_plus_the_providers_own() -> None:
    general = remediation.general(FIX)
    assert general.provider is None
    assert general.summary == "Make the storage private."
    assert general.blocks() == [("CLI", "modelward scan --source SOURCE")]
    azure = remediation.for_provider(FIX, "azure")
    assert azure is not None and azure.label == "Azure"
    assert azure.blocks() == [
        ("CLI", "az storage account update --allow-blob-public-access false"),
        ("Terraform", "allow_nested_items_to_be_public = false"),
    ]
    assert remediation.for_provider(FIX, "oci") is None
    assert remediation.for_provider(FIX, "local") is None
    assert remediation.for_provider(FIX, None) is None
    assert remediation.for_provider({"summary": "x"}, "aws") is None
    assert [s.provider for s in remediation.all_providers(FIX)] == ["aws", "azure", "gcp"]
    text = remediation.text_for(FIX, "gcp")
    assert text == (
        "CLI:\nmodelward scan --source SOURCE\n\n"
        "On Google Cloud:\nCLI:\ngcloud storage buckets update gs://B --public-access-prevention"
    )
    assert remediation.text_for(FIX, None) == "CLI:\nmodelward scan --source SOURCE"


def test_the_schema_and_the_writers_know_the_same_providers() -> None:
    schema = load_schema("policy/schema/policy.schema.json")
    keys = schema["properties"]["remediation"]["properties"]["providers"]["properties"]
    assert tuple(keys) == remediation.PROVIDERS
    in_results = load_schema("results.schema.json")["properties"]["policies"]["items"]
    result_keys = in_results["properties"]["remediation"]["properties"]["providers"]["properties"]
    assert tuple(result_keys) == remediation.PROVIDERS


# --- the policy file ---------------------------------------------------------------------------

HEAD = (
    "id: T-STO-01\ntitle: Model storage is not public\nseverity: critical\nmaturity: applied\n"
    "resource: storage\ncheck: {field: public, equals: false}\n"
)
REMEDIATION = """\
remediation:
  summary: Make the storage private.
  providers:
    aws:
      summary: Turn on S3 Block Public Access.
      cli: aws s3api put-public-access-block --bucket BUCKET
    azure:
      summary: Disallow anonymous blob access on the account.
      cli: az storage account update --name ACCOUNT --allow-blob-public-access false
      terraform: |-
        resource "azurerm_storage_account" "models" {
          allow_nested_items_to_be_public = false
        }
    gcp:
      summary: Enforce public access prevention.
      cli: gcloud storage buckets update gs://BUCKET --public-access-prevention
  providers_note: A plain registry has no such switch.
"""


def _parse(text: str, name: str = "p.yaml"):
    return parse_policy(load_yaml_text(text, name))


def test_a_policy_with_provider_steps_loads_them_as_plain_data() -> None:
    policy, errors = _parse(HEAD + REMEDIATION)
    assert errors == [] and policy is not None
    assert policy.remediation["summary"] == "Make the storage private."
    assert policy.remediation["providers"]["azure"]["terraform"].startswith("resource ")
    assert set(policy.remediation["providers"]) == {"aws", "azure", "gcp"}
    assert policy.remediation["providers_note"] == "A plain registry has no such switch."
    plain, errors = _parse(HEAD + "remediation: Make the storage private.\n")
    assert errors == [] and plain is not None
    assert plain.remediation == {"summary": "Make the storage private."}


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "remediation:\n  summary: x\n  providers:\n    azrue:\n      cli: az x\n",
            "p.yaml:10:5: unknown key 'azrue' (allowed: aws, azure, gcp, oci)",
        ),
        (
            "remediation:\n  summary: x\n  providers:\n    gcp: {}\n",
            "p.yaml:10:5: remediation/providers/gcp: must not be empty "
            "(give one of: cli, console, other, summary, terraform)",
        ),
        (
            "remediation:\n  summary: x\n  providers:\n    aws:\n      shell: aws s3 ls\n",
            "p.yaml:11:7: unknown key 'shell' (allowed: cli, console, other, summary, terraform)",
        ),
        (
            "remediation:\n  summary: x\n  providers:\n    aws:\n      cli: ''\n",
            "p.yaml:11:7: remediation/providers/aws/cli: '' should be non-empty",
        ),
        (
            "remediation:\n  summary: x\n  providers: []\n",
            "p.yaml:9:3: remediation/providers: [] is not of type 'object'",
        ),
        (
            "remediation:\n  providers:\n    aws:\n      cli: aws s3 ls\n",
            "p.yaml:7:1: 'summary' is a required property (in remediation)",
        ),
        (
            "remediation:\n  summary: x\n  providers_note: 3\n",
            "p.yaml:9:3: remediation/providers_note: 3 is not of type 'string'",
        ),
    ],
)
def test_a_mistake_in_provider_steps_is_reported_at_its_line_and_column(
    snippet: str, expected: str
) -> None:
    policy, errors = _parse(HEAD + snippet)
    assert policy is None
    assert errors == [expected]


# --- results carry the steps -------------------------------------------------------------------


def _policy():
    policy, errors = _parse(HEAD + REMEDIATION, "/pack/t-sto-01.yaml")
    assert policy is not None, errors
    return policy


STORES = {
    "s3://ml-public": ("aws", "aws:"),
    "azure://mlmodels/az-public": ("azure", "azure:account=mlmodels"),
    "gs://acme-public": ("gcp", "gcs:project=acme-ml"),
    "file:///srv/models/local-public": ("local", "path:/srv/models"),
}
SOURCE_KINDS = {"aws:": "aws", "azure:account=mlmodels": "azure", "gcs:project=acme-ml": "gcs"}
SOURCE_KINDS["path:/srv/models"] = "path"


def _document(stores: dict[str, tuple[str, str]] = STORES) -> dict:
    policy = _policy()
    resources = [
        Resource(rid, "storage", rid.rsplit("/", 1)[-1], source, {"public": True})
        for rid, (_, source) in stores.items()
    ]
    findings = [
        Finding(
            policy.id, policy.title, policy.severity, policy.maturity, r.id, "storage", r.name,
            "fail", "public is true, expected false", {"public": True},
        )
        for r in resources
    ]  # fmt: skip
    sources = [
        {"name": name, "type": kind, "status": "ok", "error": None, "resource_count": 1}
        for name, kind in SOURCE_KINDS.items()
    ]
    return make_document(findings, policies=[policy], resources=resources, sources=sources)


CLI = {
    "aws": "aws s3api put-public-access-block --bucket BUCKET",
    "azure": "az storage account update --name ACCOUNT --allow-blob-public-access false",
    "gcp": "gcloud storage buckets update gs://BUCKET --public-access-prevention",
}


def _only(text: str, provider: str | None) -> None:
    """`text` holds the steps of `provider` and of no other provider."""
    for name, command in CLI.items():
        assert (command in text) == (name == provider), (name, provider, text)


def test_results_carry_the_provider_steps_and_validate() -> None:
    document = _document()
    assert document["schema_version"] == "1.2"
    [entry] = document["policies"]
    assert entry["remediation"]["providers"]["azure"]["cli"] == CLI["azure"]
    assert entry["remediation"]["providers_note"] == "A plain registry has no such switch."
    reread = json.loads(results.dumps(document))
    assert results.problems(reread) == []


def test_a_results_file_of_schema_1_1_without_provider_steps_still_validates() -> None:
    document = json.loads(results.dumps(_document()))
    document["schema_version"] = "1.1"
    for policy in document["policies"]:
        policy["remediation"].pop("providers")
        policy["remediation"].pop("providers_note")
    assert results.problems(document) == []
    document["policies"][0]["remediation"]["providers"] = {"ibm": {"cli": "x"}}
    assert results.problems(document)


# --- every writer -------------------------------------------------------------------------------


def test_sarif_results_carry_their_providers_steps_and_the_rule_help_all_of_them() -> None:
    log = json.loads(SarifWriter().render(_document())["results.sarif"])
    run = log["runs"][0]
    [rule] = run["tool"]["driver"]["rules"]
    for command in CLI.values():
        assert command in rule["help"]["text"] and command in rule["help"]["markdown"]
    assert "#### On Azure" in rule["help"]["markdown"]
    by_resource = {r["properties"]["resource_id"]: r for r in run["results"]}
    for rid, (provider, _) in STORES.items():
        result = by_resource[rid]
        _only(result["message"]["text"], provider if provider != "local" else None)
        if provider == "local":
            assert "How to fix on" not in result["message"]["text"]
        assert result["properties"]["provider"] == provider
    assert (
        "How to fix on Azure: Disallow anonymous blob access on the account."
        in (by_resource["azure://mlmodels/az-public"]["message"]["text"])
    )


def test_junit_failures_carry_their_providers_steps() -> None:
    root = JunitWriter().build(_document())
    bodies = {
        case.get("name", "").split(" [")[-1].rstrip("]"): case.find("failure").text or ""
        for case in root.iter("testcase")
    }
    for rid, (provider, _) in STORES.items():
        body = next(text for name, text in bodies.items() if name.endswith(rid))
        assert "remediation: Make the storage private." in body
        _only(body, provider if provider != "local" else None)
    assert "On Google Cloud: Enforce public access prevention." in next(
        text for name, text in bodies.items() if name.endswith("gs://acme-public")
    )


def test_csv_rows_name_the_provider_and_carry_its_steps() -> None:
    text = render_csv(_document())
    rows = {r["resource_id"]: r for r in csv.DictReader(io.StringIO(text))}
    for rid, (provider, _) in STORES.items():
        row = rows[rid]
        assert row["provider"] == provider
        assert row["remediation"] == "Make the storage private."
        _only(row["remediation_steps"], provider if provider != "local" else None)
    assert rows["file:///srv/models/local-public"]["remediation_steps"] == ""
    assert "terraform" in rows["azure://mlmodels/az-public"]["remediation_steps"].lower()


def test_markdown_folds_each_providers_steps_with_how_many_resources_are_its() -> None:
    text = render_markdown(_document())
    assert "### How to fix, by provider" in text
    for label in ("AWS", "Azure", "Google Cloud"):
        assert f"<details><summary>T-STO-01 on {label} (1 resource)</summary>" in text
    for command in CLI.values():
        assert f"```\n{command}\n```" in text
    # the table keeps the neutral summary, which is all a local resource gets
    assert "Make the storage private." in text


def test_markdown_without_provider_steps_has_no_provider_section() -> None:
    document = _document()
    for policy in document["policies"]:
        policy["remediation"] = {"summary": "Make the storage private."}
    assert "How to fix, by provider" not in render_markdown(document)


class _Text(HTMLParser):
    """The visible text of each `<article>` and each findings row."""

    def __init__(self) -> None:
        super().__init__()
        self.articles: list[str] = []
        self.rows: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:  # type: ignore[no-untyped-def]
        if tag == "article":
            self.articles.append("")
            self._in.append("article")
        elif tag == "tr":
            self.rows.append("")
            self._in.append("tr")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("article", "tr") and self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if "article" in self._in:
            self.articles[-1] += data
        if "tr" in self._in:
            self.rows[-1] += data


def test_html_fix_first_shows_each_providers_steps_and_rows_their_own_fix() -> None:
    parsed = _Text()
    parsed.feed(render_html(_document()))
    [article] = [a for a in parsed.articles if "T-STO-01" in a]
    for label in ("AWS", "Azure", "Google Cloud"):
        assert f"On {label} (1 resource)" in article
    for command in CLI.values():
        assert command in article
    assert "allow_nested_items_to_be_public = false" in article
    rows = {
        rid: next(r for r in parsed.rows if "Fix:" in r and rid.rsplit("/", 1)[-1] in r)
        for rid in STORES
    }
    assert "On Azure: Disallow anonymous blob access" in rows["azure://mlmodels/az-public"]
    assert "On AWS: Turn on S3 Block Public Access." in rows["s3://ml-public"]
    local = rows["file:///srv/models/local-public"]
    assert "Fix: Make the storage private." in local and "On " not in local.split("Fix:")[1]


def test_html_print_names_a_few_failing_resources_and_which_providers_have_steps() -> None:
    """On paper (the board pack) Fix first names PRINT_SHOWN resources and counts the rest, and
    says in one line which providers have steps of their own (hidden in print, kept on screen);
    the framework tables name PRINT_FAILING_SHOWN per control. The screen keeps every name."""
    import re

    from scanner.outputs.html_writer import PRINT_FAILING_SHOWN, PRINT_SHOWN

    buckets = {f"s3://ml-public-{i:02d}": ("aws", "aws:") for i in range(8)}
    html = render_html(_document({**STORES, **buckets}))
    total = len(STORES) + len(buckets)
    printed = re.search(r'<p class="failing print-only">(.*?)</p>', html, re.S)
    assert printed is not None
    text = re.sub(r"<[^>]+>", "", printed.group(1))
    names = text.split(":", 1)[1].split(" and ")[0].split(", ")
    assert len(names) == PRINT_SHOWN, text
    assert f"and {total - PRINT_SHOWN} more" in text
    assert "on screen for AWS (9), Azure (1), Google Cloud (1)" in text
    screen = re.search(r'<p class="failing screen-only">(.*?)</p>', html, re.S)
    assert screen is not None and all(b.rsplit("/", 1)[-1] in screen.group(1) for b in buckets)
    assert '<div class="provider-steps">' in html  # the steps themselves, for the screen
    css = (Path(__file__).parents[2] / "reports" / "report.css").read_text()
    print_rules = css.split("@media print", 1)[1]
    assert ".fix .provider-steps { display: none; }" in print_rules
    from tests.results_builder import build_results

    estate = build_results()
    cells = re.findall(r'<span class="print-inline">(.*?)</span>', render_html(estate), re.S)
    longest = max(
        len(c["failing"]) for fw in estate["frameworks"] for c in fw["controls"] if c["failing"]
    )
    assert cells and longest > PRINT_FAILING_SHOWN
    for cell in cells:
        text = re.sub(r"<[^>]+>", "", cell)
        assert len(text.split(" and ")[0].split(", ")) <= PRINT_FAILING_SHOWN, cell
    assert any(f" and {longest - PRINT_FAILING_SHOWN} more" in c for c in cells)


def test_policies_show_can_narrow_the_steps_to_one_provider(tmp_path: Path) -> None:
    from tests.helpers import run_subprocess

    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "t-sto-01.yaml").write_text(HEAD + REMEDIATION, encoding="utf-8")
    args = ["policies", "show", "T-STO-01", "--no-builtin-policies", "--policies", str(pack)]
    whole = run_subprocess(*args)
    assert whole.code == 0, whole.err
    for command in CLI.values():
        assert command in whole.out
    azure = run_subprocess(*args, "--provider", "azure")
    assert azure.code == 0, azure.err
    _only(azure.out, "azure")
    assert "Make the storage private." in azure.out
    assert "A plain registry has no such switch." in azure.out
    wrong = run_subprocess(*args, "--provider", "ibm")
    assert wrong.code == 2 and "invalid choice: 'ibm'" in wrong.err


def test_junit_xml_stays_parseable_with_multiline_steps() -> None:
    data = JunitWriter().render(_document())["results.junit.xml"]
    assert ET.fromstring(data).tag == "testsuites"
