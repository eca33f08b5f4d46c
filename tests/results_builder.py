"""Results documents for report tests and benchmarks, built by the real results pipeline.

A scan of local directories only produces artefacts and attestations; the reports must also lay
out models, versions, storage, endpoints, waivers, unknown values and failed sources. This builds
such an estate as `Resource`s, gives each (policy, resource) a verdict from a seeded random
draw, and hands them to the same code a scan uses (`attach_controls`, `roll_up`, `maturity`,
`decide`, `results.build`), so the document is consistent and schema-valid by construction.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from scanner import frameworks as fw
from scanner import results
from scanner.findings import Finding
from scanner.gate import GateSettings, decide
from scanner.inventory import Ref, Resource, Unknown
from scanner.policy.loader import parse_policy
from scanner.policy.model import Policy
from scanner.yamlpos import load_yaml_text

NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=2>"
HOSTILE = f'{SCRIPT} | `tick` {IMG}\n=HYPERLINK("http://evil.example") @security-team ![x](http://evil.example/p.png)'

# (id, title, severity, rung, resource type, remediation)
POLICIES = (
    (
        "DEMO-STO-01",
        "Model storage is not public",
        "critical",
        "applied",
        "storage",
        "Block public access on the bucket and remove public grants.",
    ),
    (
        "DEMO-STO-02",
        "Model storage uses a customer-managed key",
        "high",
        "advanced",
        "storage",
        "Encrypt the bucket with a customer-managed KMS key.",
    ),
    (
        "DEMO-STO-03",
        "Reads of model files are logged",
        "medium",
        "advanced",
        "storage",
        "Enable CloudTrail data events for object reads.",
    ),
    (
        "DEMO-ART-01",
        "Artefacts contain no pickle-based files",
        "critical",
        "applied",
        "artefact",
        "Convert the weights to safetensors.",
    ),
    (
        "DEMO-ART-02",
        "Artefacts are signed",
        "high",
        "advanced",
        "artefact",
        "Sign the artefact with Sigstore and verify before deploy.",
    ),
    (
        "DEMO-REG-01",
        "Registered versions record their provenance",
        "medium",
        "applied",
        "model_version",
        "Log the training run's code commit and datasets.",
    ),
    (
        "DEMO-EP-01",
        "Endpoints require authentication",
        "critical",
        "applied",
        "endpoint",
        "Put an authorizer in front of the endpoint.",
    ),
    (
        "DEMO-EP-02",
        "Endpoints limit requests per client",
        "high",
        "advanced",
        "endpoint",
        "Add a usage plan with per-client quotas.",
    ),
    (
        "DEMO-GOV-01",
        "A current threat model names model theft",
        "high",
        "strategic",
        "attestation",
        "Review the threat model and add it to the attestations file.",
    ),
)

FRAMEWORKS = (
    (
        "example-model-security",
        "Model security baseline (example)",
        "2026.1",
        "https://example.org/model-security",
        (
            ("MS-1", "Model files are safe to load", ("DEMO-ART-01",), ""),
            ("MS-2", "Model storage is private and encrypted", ("DEMO-STO-01", "DEMO-STO-02"), ""),
            ("MS-3", "Access to models is logged", ("DEMO-STO-03",), ""),
            ("MS-4", "Artefact integrity is verifiable", ("DEMO-ART-02",), ""),
            ("MS-5", "Model IP is on the risk register", (), "risk_register"),
            ("MS-6", "A red team attempted model extraction", (), "red_team"),
        ),
    ),
    (
        "example-ai-management",
        "AI management controls (example)",
        "1.0",
        "https://example.org/ai-management",
        (
            ("A.6.1", "Provenance of models is recorded", ("DEMO-REG-01",), ""),
            ("A.6.2", "Inference APIs resist extraction", ("DEMO-EP-01", "DEMO-EP-02"), ""),
            ("A.7.1", "Threats to model IP are assessed", ("DEMO-GOV-01",), ""),
            ("A.8.1", "Incidents involving model theft have a playbook", (), "incident_playbook"),
        ),
    ),
)


def policies() -> list[Policy]:
    out = []
    for pid, title, severity, rung, rtype, fix in POLICIES:
        text = (
            f"id: {pid}\ntitle: {title}\nseverity: {severity}\nmaturity: {rung}\n"
            f"resource: {rtype}\ncheck: {{field: ok, equals: true}}\n"
            f"description: Checks that {title[0].lower()}{title[1:]}.\n"
            f"rationale: Without it a model can be copied or extracted.\n"
            f"remediation:\n  summary: {fix}\n  cli: |\n    aws example fix --target {pid}\n"
            f"references: [https://example.org/{pid.lower()}]\n"
        )
        policy, errors = parse_policy(load_yaml_text(text, f"{pid}.yaml"))
        assert policy is not None, errors
        out.append(policy)
    return out


def frameworks(hostile: bool = False) -> list[fw.Framework]:
    out = []
    for fid, title, version, url, controls in FRAMEWORKS:
        out.append(
            fw.Framework(
                id=fid,
                title=f"{title} {SCRIPT}" if hostile else title,
                version=version,
                url="javascript:window.__pwned=4" if hostile else url,
                controls=tuple(
                    fw.Control(cid, f"{ctitle} {IMG}" if hostile else ctitle, pols, att)
                    for cid, ctitle, pols, att in controls
                ),
            )
        )
    return out


def _estate(scale: int, rng: random.Random, hostile: bool) -> list[Resource]:
    def name(text: str, i: int) -> str:
        return f"{text} {HOSTILE}" if hostile and i % 7 == 3 else text

    res: list[Resource] = []
    principals = [f"arn:aws:iam::123456789012:role/reader-{i}" for i in range(5)]
    for i, arn in enumerate(principals):
        res.append(Resource(arn, "principal", f"reader-{i}", "aws:", {"kind": "service"}))
    for i in range(scale):
        res.append(
            Resource(
                f"s3://ml-models-{i}",
                "storage",
                name(f"ml-models-{i}", i),
                "aws:",
                {
                    "provider": "s3",
                    "public": Unknown("s3:GetBucketPolicyStatus denied")
                    if i % 11 == 5
                    else i % 4 == 0,
                    "encryption": {"at_rest": True, "customer_managed_key": i % 3 == 0},
                    "readers": [Ref(principals[(i + k) % 5]) for k in range(2)],
                    "tags": {"team": name(f"team-{i % 4}", i)},
                },
            )
        )
    for i in range(2 * scale):
        storage = f"s3://ml-models-{i % scale}"
        res.append(
            Resource(
                f"{storage}/model{i}",
                "artefact",
                name(f"model{i}", i),
                "aws:",
                {
                    "uri": f"{storage}/model{i}",
                    "storage": Ref(storage),
                    "serialization": {
                        "formats": ["pickle"] if i % 5 == 0 else ["safetensors"],
                        "pickle_based": i % 5 == 0,
                    },
                    "file_count": 1 + i % 4,
                },
            )
        )
    base = "mlflow+http://mlflow.internal:5000/models"
    for i in range(scale):
        res.append(
            Resource(
                f"{base}/model{i}",
                "model",
                name(f"model{i}", i),
                "mlflow",
                {"provider": "mlflow", "tags": {"owner": name("ml-team", i)}},
            )
        )
        for v in (1, 2):
            res.append(
                Resource(
                    f"{base}/model{i}/versions/{v}",
                    "model_version",
                    f"model{i}/{v}",
                    "mlflow",
                    {
                        "model": Ref(f"{base}/model{i}"),
                        "version": str(v),
                        "stage": "production" if v == 2 else "archived",
                        "artefact": Ref(
                            f"s3://ml-models-{(2 * i + v - 1) % scale}/model{2 * i + v - 1}"
                        ),
                    },
                )
            )
    for i in range(max(1, scale // 2)):
        res.append(
            Resource(
                f"arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep-{i}",
                "endpoint",
                name(f"ep-{i}", i),
                "aws:",
                {
                    "auth_required": i % 3 != 0,
                    "model_versions": [Ref(f"{base}/model{i}/versions/2")],
                    "rate_limit": {"configured": rng.random() < 0.5},
                },
            )
        )
    for kind, day in (("threat_model", "2024-01-10"), ("risk_register", "2026-02-01")):
        res.append(
            Resource(
                f"attestation:{kind}:{kind}-1",
                "attestation",
                f"{kind}-1",
                "evidence",
                {
                    "kind": kind,
                    "statement": name(f"{kind} statement", 3),
                    "date": day,
                    "evidence_uri": "https://grc.example.com/x",
                    "controls": [],
                },
            )
        )
    return res


def _verdict(rng: random.Random) -> str:
    r = rng.random()
    return (
        "fail"
        if r < 0.3
        else "error"
        if r < 0.35
        else "waived"
        if r < 0.4
        else "not_applicable"
        if r < 0.45
        else "pass"
    )


def build_results(scale: int = 6, seed: int = 7, hostile: bool = False) -> dict[str, Any]:
    rng = random.Random(seed)
    pols = policies()
    resources = _estate(scale, rng, hostile)
    findings = []
    for p in pols:
        for r in (r for r in resources if r.type == p.resource):
            status = _verdict(rng)
            waiver = None
            if status == "waived" or (status == "fail" and rng.random() < 0.1):
                waiver = {
                    "policy": p.id,
                    "resource": r.id,
                    "justification": "Legacy model, retired next quarter"
                    + (f" {HOSTILE}" if hostile else ""),
                    "approved_by": "ciso@example.com",
                    "expires": "2026-12-31" if status == "waived" else "2026-03-31",
                    "ticket": "SEC-1234",
                    "file": "/srv/compliance/waivers.yaml",
                    "line": 4 + len(findings),
                    "state": "applied" if status == "waived" else "expired",
                    "original_status": "fail",
                }
            message = {
                "fail": "ok is false, expected true",
                "error": "ok is unknown: s3:GetBucketPolicy denied",
                "pass": "ok: ok equals true",
                "waived": "ok is false, expected true (waived)",
                "not_applicable": "out of scope",
            }[status]
            evidence: dict[str, Any] = {"ok": status in ("pass", "not_applicable")}
            if p.resource == "artefact":
                evidence["storage"] = {"$ref": r.attributes["storage"].id}
            if status == "error":
                evidence["ok"] = {"$unknown": "s3:GetBucketPolicy denied"}
            if hostile:
                evidence[f"tags.{SCRIPT}"] = HOSTILE
            findings.append(
                Finding(
                    p.id,
                    p.title,
                    p.severity,
                    p.maturity,
                    r.id,
                    r.type,
                    r.name,
                    status,
                    message,
                    evidence,
                    (),
                    waiver,
                )
            )
    frames = frameworks(hostile)
    findings = fw.attach_controls(findings, frames)
    sources = [
        {
            "name": "aws:",
            "type": "aws",
            "status": "ok",
            "error": None,
            "resource_count": sum(r.source == "aws:" for r in resources),
        },
        {
            "name": "mlflow",
            "type": "mlflow",
            "status": "error",
            "error": "model mlflow 'x': permission denied (+1 more problem(s))",
            "problems": [
                "model mlflow 'x': permission denied",
                f"tag read failed: {HOSTILE}" if hostile else "tag read failed",
            ],
            "resource_count": sum(r.source == "mlflow" for r in resources),
        },
        {
            "name": "evidence",
            "type": "attestations",
            "status": "ok",
            "error": None,
            "resource_count": 2,
        },
    ]
    attestations = [r for r in resources if r.type == "attestation"]
    document = results.build(
        scan={
            "id": f"synthetic-{seed}",
            "started_at": "2026-06-30T09:00:00Z",
            "finished_at": "2026-06-30T09:02:41Z",
            "as_of": "2026-06-30T00:00:00Z",
            "sources": sources,
            "policy_pack": {"count": len(pols), "sha256": "ab" * 32},
            "params": {"DEMO-STO-01": {"max_readers": 3}},
        },
        resources=resources,
        findings=findings,
        frameworks=fw.roll_up(frames, findings, attestations, NOW),
        maturity=fw.maturity(pols, findings),
        gate=decide(findings, sources, GateSettings(fail_on="high", allow_partial=False)),
        policies=pols,
    )
    problems = results.problems(document)
    assert not problems, problems[:3]
    return results.plain(document)  # as read back from results.json
