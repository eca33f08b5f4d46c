"""CloudTrail trails -> `audit_trail`, and which buckets' object reads they record.

A trail records a bucket's model reads when it is logging, covers the bucket's region
(multi-region, or home region = bucket region), and one of its event selectors logs read
data events on objects under every model directory of the bucket:
- basic selectors: `ReadWriteType` All/ReadOnly and a `DataResources` entry of type
  `AWS::S3::Object` whose value is a prefix of the objects' ARNs (`arn:aws:s3` = every
  bucket, `arn:aws:s3:::b/` = one bucket, `arn:aws:s3:::b/models/` = part of it);
- advanced selectors: every field selector must hold for all GetObject events on those
  objects (eventCategory Data, resources.type AWS::S3::Object, readOnly not excluding reads,
  resources.ARN / eventName / eventSource operators evaluated against that event space).
  A field the scanner does not model makes the selector count as not covering (fail closed).
Trails are read once per account: `DescribeTrails` with shadow trails in each region, deduped
by ARN, then status and selectors from the trail's home region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.aws.context import AwsContext

ALL_BUCKETS = "arn:aws:s3:::"


@dataclass
class Trail:
    arn: str
    name: str
    account: str
    home_region: str
    multi_region: bool
    log_validation: bool
    organization: bool
    bucket: str | None
    enabled: bool | Unknown = False
    basic: list[dict[str, Any]] | Unknown = field(default_factory=list)
    advanced: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def regions_cover(self, region: str) -> bool:
        return self.multi_region or self.home_region == region

    def covers(self, space: Sequence[str]) -> bool | Unknown:
        """Read data events for every object under every prefix in `space`."""
        if isinstance(self.basic, Unknown):
            return self.basic
        if any(_basic_covers(sel, space) for sel in self.basic):
            return True
        return any(_advanced_covers(sel, space) for sel in self.advanced)


def describe(ctx: AwsContext, regions: Sequence[str]) -> tuple[list[Trail], list[str], Any]:
    """Trails of the account seen from `regions` (dedupe by ARN); problems; Unknown or None."""
    seen: dict[str, dict[str, Any]] = {}
    denied: Unknown | None = None
    for region in regions:
        answer = ctx.call("cloudtrail", region, "describe_trails", includeShadowTrails=True)
        listed = ctx.items(
            answer.get("trailList") if isinstance(answer, dict) else answer,
            "cloudtrail:DescribeTrails",
            "TrailARN",
        )
        if not isinstance(listed, list):
            if denied is None:
                denied = listed if isinstance(listed, Unknown) else Unknown("no trail list")
            continue
        for t in listed:
            seen.setdefault(t["TrailARN"], t)
    trails: list[Trail] = []
    problems: list[str] = []
    for arn, t in sorted(seen.items()):
        home = t.get("HomeRegion") or regions[0]
        trail = Trail(
            arn=arn,
            name=t.get("Name", arn.rsplit("/", 1)[-1]),
            account=arn.split(":")[4] if arn.count(":") >= 5 else ctx.account,
            home_region=home,
            multi_region=bool(t.get("IsMultiRegionTrail")),
            log_validation=bool(t.get("LogFileValidationEnabled")),
            organization=bool(t.get("IsOrganizationTrail")),
            bucket=t.get("S3BucketName"),
            raw=redact(dict(t), mask_keys=True),
        )
        status = ctx.call("cloudtrail", home, "get_trail_status", Name=arn)
        trail.enabled = (
            status if isinstance(status, Unknown) else bool((status or {}).get("IsLogging"))
        )
        selectors = ctx.call("cloudtrail", home, "get_event_selectors", TrailName=arn)
        if isinstance(selectors, Unknown):
            trail.basic = selectors
        else:
            trail.basic = list((selectors or {}).get("EventSelectors", []) or [])
            trail.advanced = list((selectors or {}).get("AdvancedEventSelectors", []) or [])
            trail.raw["EventSelectors"] = trail.basic
            trail.raw["AdvancedEventSelectors"] = trail.advanced
        trails.append(trail)
    return trails, problems, denied


def _basic_covers(sel: dict[str, Any], space: Sequence[str]) -> bool:
    if sel.get("ReadWriteType", "All") not in ("All", "ReadOnly"):
        return False
    for res in sel.get("DataResources", []) or []:
        if res.get("Type") != "AWS::S3::Object":
            continue
        values = res.get("Values", []) or []
        if all(any(p.startswith(v) for v in values) for p in space):
            return True
    return False


def _holds_for_all(operators: dict[str, Any], subject: str | None, space: Sequence[str]) -> bool:
    """Each operator of one field selector holds for every event in the space.

    `subject` is the single value the field has (eventName GetObject, ...); None means the
    field is the object ARN, ranging over every object under each prefix of `space`.
    """
    for op, values in operators.items():
        if op == "Field":
            continue
        values = values or []
        if subject is not None:
            ok = {
                "Equals": subject in values,
                "NotEquals": subject not in values,
                "StartsWith": any(subject.startswith(v) for v in values),
                "NotStartsWith": not any(subject.startswith(v) for v in values),
                "EndsWith": any(subject.endswith(v) for v in values),
                "NotEndsWith": not any(subject.endswith(v) for v in values),
            }.get(op, False)
        elif op == "StartsWith":
            ok = all(any(p.startswith(v) for v in values) for p in space)
        elif op == "NotStartsWith":
            ok = all(not any(p.startswith(v) or v.startswith(p) for v in values) for p in space)
        elif op == "NotEquals":
            ok = all(not any(v.startswith(p) for v in values) for p in space)
        else:  # Equals / EndsWith / NotEndsWith single out some objects: not all of them
            ok = False
        if not ok:
            return False
    return True


_FIXED = {
    "eventcategory": "Data",
    "resources.type": "AWS::S3::Object",
    "readonly": "true",
    "eventname": "GetObject",
    "eventsource": "s3.amazonaws.com",
}


def _advanced_covers(sel: dict[str, Any], space: Sequence[str]) -> bool:
    fields = {f.get("Field", "").lower(): f for f in sel.get("FieldSelectors", []) or []}
    if fields.get("eventcategory") is None or fields.get("resources.type") is None:
        return False  # data events need both
    for name, fs in fields.items():
        if name == "resources.arn":
            if not _holds_for_all(fs, None, space):
                return False
        elif name in _FIXED:
            if not _holds_for_all(fs, _FIXED[name], space):
                return False
        else:
            return False
    return True


def audit_trail_resource(
    trail: Trail,
    covered: list[str],
    all_buckets: bool | Unknown,
    source: str,
    unlisted: Unknown | None = None,
) -> Resource:
    """`read_events_on` lists the scanned buckets the trail covers; Unknown when none is
    covered and some buckets could not be listed (they may be the covered ones)."""
    read_events_on: list[Ref] | Unknown = [Ref(b) for b in sorted(covered)]
    if isinstance(trail.basic, Unknown):
        read_events_on = trail.basic
    elif not covered and unlisted is not None:
        read_events_on = unlisted
    return Resource(
        id=trail.arn,
        type="audit_trail",
        name=trail.name,
        source=source,
        attributes={
            "provider": "aws",
            "account": trail.account,
            "region": trail.home_region,
            "enabled": trail.enabled,
            "multi_region": trail.multi_region,
            "log_validation": trail.log_validation,
            "organization_trail": trail.organization,
            "log_bucket": f"s3://{trail.bucket}" if trail.bucket else None,
            "read_events_on": read_events_on,
            "all_buckets_read_events": all_buckets,
        },
        raw=trail.raw,
    )


def all_buckets(trail: Trail) -> bool | Unknown:
    return trail.covers([ALL_BUCKETS])
