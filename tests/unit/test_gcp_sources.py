"""The parts of the gcs: and vertex: sources that need no server: specs, members, perimeters,
the call rules (retry, denial, malformed), and checking a config loads no Google library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scanner.errors import UsageError
from scanner.inventory import Unknown
from scanner.sources.gcp.calls import Calls, GcpSourceFailure, HttpStatusError, MalformedAnswer
from scanner.sources.gcs import members
from scanner.sources.gcs.options import parse_options as gcs_options
from scanner.sources.gcs.perimeter import restriction
from scanner.sources.gcs.policies import parse_policy
from scanner.sources.registry import parse_spec
from scanner.sources.vertex.options import parse_options as vertex_options
from tests.helpers import REPO


def test_gcs_options_from_the_spec_and_config() -> None:
    opts = gcs_options(parse_spec("gcs:project=acme-ml,buckets=a-models+b-models"))
    assert opts.project == "acme-ml" and opts.buckets == ("a-models", "b-models")
    opts = gcs_options(parse_spec("gcs:project=acme-ml", options={"org_domains": ["Acme.com"]}))
    assert opts.org_domains == ("acme.com",)


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("gcs:buckets=a", {}, "project=ID is required"),
        ("gcs:project=Acme", {}, "is not a Google Cloud project id"),
        ("gcs:project=acme-ml,buckets=A_B!", {}, "is not a Cloud Storage bucket name"),
        ("gcs:project=acme-ml,region=eu", {}, "unknown option 'region'"),
        ("gcs:project=acme-ml", {"project": "other-one"}, "given both in the spec and in config"),
        ("gcs:project=acme-ml,workers=0", {}, "workers must be a positive integer"),
        ("vertex:project=acme-ml", {}, "location=REGION is required"),
        ("vertex:project=acme-ml,location=mars", {}, "is not a Vertex AI region"),
    ],
)
def test_bad_specs_are_usage_errors(spec: str, options: dict, message: str) -> None:
    parse = gcs_options if spec.startswith("gcs:") else vertex_options
    with pytest.raises(UsageError, match=message):
        parse(parse_spec(spec, options=options))


def test_checking_a_config_loads_no_google_library() -> None:
    code = (
        "import sys; from scanner.sources.registry import OPTIONS, parse_spec;"
        "from scanner.sources.gcs.options import parse_options;"
        "parse_options(parse_spec('gcs:project=acme-ml'));"
        "print(sorted(m for m in sys.modules if m.startswith('google')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"


SCOPE = members.Scope("acme-ml", "123", ("acme.example",))


@pytest.mark.parametrize(
    ("member", "kind", "external"),
    [
        ("allUsers", "anonymous", True),
        ("allAuthenticatedUsers", "anonymous", True),
        ("user:ann@acme.example", "human", False),
        ("user:bob@partner.example", "human", True),
        ("group:ml@eu.acme.example", "human", False),
        ("domain:acme.example", "human", False),
        ("serviceAccount:ci@acme-ml.iam.gserviceaccount.com", "service", False),
        ("serviceAccount:ci@other-proj.iam.gserviceaccount.com", "service", True),
        ("serviceAccount:service-123@gcp-sa-aiplatform.iam.gserviceaccount.com", "service", False),
        ("serviceAccount:123-compute@developer.gserviceaccount.com", "service", False),
        ("projectViewer:acme-ml", "human", False),
        ("projectViewer:other-proj", "human", True),
        ("deleted:user:old@acme.example?uid=1", "human", False),
        (
            "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/"
            "gh/subject/repo:acme/ml",
            "service",
            False,
        ),
    ],
)
def test_member_kinds_and_who_is_external(member: str, kind: str, external: bool) -> None:
    assert members.kind(member) == kind
    assert members.cross_account(member, SCOPE) is external


def test_people_outside_known_domains_are_unknown_without_org_domains() -> None:
    found = members.cross_account("user:ann@acme.example", members.Scope("acme-ml", "1", None))
    assert isinstance(found, Unknown) and "org_domains" in found.reason


@pytest.mark.parametrize(
    ("entity", "member"),
    [
        ("allUsers", "allUsers"),
        ("user-ann@acme.example", "user:ann@acme.example"),
        ("group-ml@acme.example", "group:ml@acme.example"),
        ("domain-acme.example", "domain:acme.example"),
        ("project-viewers-123", "projectViewer:123"),
        ("project-bogus-123", None),
    ],
)
def test_acl_entities_become_members(entity: str, member: str | None) -> None:
    assert members.from_acl_entity(entity) == member


def test_a_policy_of_the_wrong_shape_is_refused_not_emptied() -> None:
    with pytest.raises(MalformedAnswer):
        parse_policy({"bindings": "allUsers"}, "projects/p")
    with pytest.raises(MalformedAnswer):
        parse_policy({"bindings": [{"members": ["allUsers"]}]}, "projects/p")
    ok = parse_policy({"bindings": [{"role": "roles/viewer", "members": ["user:a@b.c"]}]}, "p")
    assert ok.bindings[0].members == ("user:a@b.c",)


def _perimeter(resources, services, kind="PERIMETER_TYPE_REGULAR", **status):
    return {
        "name": "accessPolicies/1/servicePerimeters/p",
        "title": "p",
        "perimeterType": kind,
        "status": {"resources": resources, "restrictedServices": services, **status},
    }


def test_perimeter_restriction_rules() -> None:
    storage = ["storage.googleapis.com"]
    assert restriction([_perimeter(["projects/1"], storage)], "1").restricted is True
    assert restriction([_perimeter(["projects/2"], storage)], "1").restricted is False
    # A bridge connects perimeters; it restricts nothing itself.
    bridge = _perimeter(["projects/1"], storage, "PERIMETER_TYPE_BRIDGE")
    assert restriction([bridge], "1").restricted is False
    other = restriction([_perimeter(["projects/1"], ["bigquery.googleapis.com"])], "1")
    assert other.restricted is False and "does not restrict" in other.reasons[0]
    # Only the enforced status counts, not a dry-run spec.
    dry_run = {"name": "x", "spec": {"resources": ["projects/1"], "restrictedServices": storage}}
    assert restriction([dry_run], "1").restricted is False
    assert isinstance(restriction(Unknown("denied: x"), "1").restricted, Unknown)
    assert isinstance(restriction([], Unknown("denied: y")).restricted, Unknown)


def test_calls_retry_throttling_and_name_the_denied_permission() -> None:
    sleeps: list[float] = []
    calls = Calls("gcs:p", max_attempts=3, sleep=sleeps.append)
    answers = iter([HttpStatusError(429, "slow", "0"), HttpStatusError(503, "busy"), {"ok": 1}])

    def flaky():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert calls.run(flaky, permission="x.get", what="thing") == {"ok": 1}
    assert len(sleeps) == 2 and sleeps[0] == 0.0

    def denied():
        raise HttpStatusError(403, "no")

    assert calls.run(denied, permission="x.get", what="t") == Unknown("denied: x.get")
    assert calls.run(denied, permission="x.get", what="t") == Unknown("denied: x.get")

    def always_busy():
        raise HttpStatusError(429, "slow", "0")

    assert calls.run(always_busy, permission="y.list", what="t") == Unknown(
        "throttled past retries: y.list"
    )

    def missing():
        raise HttpStatusError(404, "gone")

    assert calls.run(missing, permission="z", what="t", absent=True) is None
    assert isinstance(calls.run(missing, permission="z", what="t"), Unknown)
    assert calls.problems()[:2] == [
        "gcs:p: denied: x.get (2 calls)",
        "gcs:p: throttled past retries: y.list (1 call)",
    ]


def test_calls_fail_the_source_on_refused_credentials_and_never_swallow_bugs() -> None:
    calls = Calls("vertex:p/l", max_attempts=1)

    def refused():
        raise HttpStatusError(401, "who are you")

    with pytest.raises(GcpSourceFailure, match="refused"):
        calls.run(refused, permission="a", what="models")

    def malformed():
        raise KeyError("items")

    assert "malformed answer" in calls.run(malformed, permission="a", what="models").reason

    def bug():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        calls.run(bug, permission="a", what="models")
