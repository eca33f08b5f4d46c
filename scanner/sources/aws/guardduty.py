"""GuardDuty → exactly one `threat_detection` per account and region scanned.

A region without a detector still gets its resource (`enabled: false`), so MW-NET-03 can
fail it once linking marks the region as holding models. `storage_protection` is S3
protection: the detector feature `S3_DATA_EVENTS` when the detector reports features (the
current API), else the legacy `DataSources.S3Logs` — the two can disagree on detectors
migrated between them, and features are what GuardDuty enforces now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.inventory import Resource, Unknown
from scanner.sources.aws.collected import AwsCollected
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.sagemaker_calls import Reader, strip_metadata

S3_FEATURE = "S3_DATA_EVENTS"


def collect(ctx: AwsContext, region: str, source: str) -> AwsCollected:
    reader = Reader(ctx, "guardduty", region)
    attributes: dict[str, Any] = {"provider": "aws", "account": ctx.account, "region": region}
    raw: dict[str, Any] = {}
    detector_ids = reader.pages("guardduty", "list_detectors", "DetectorIds")
    if not isinstance(detector_ids, list):
        reason = detector_ids if isinstance(detector_ids, Unknown) else Unknown("no answer")
        attributes.update(enabled=reason, storage_protection=reason)
    elif not detector_ids:
        attributes.update(enabled=False, storage_protection=False)
    else:
        detectors = reader.map(
            lambda d: reader.call("guardduty", "get_detector", DetectorId=d), detector_ids
        )
        attributes.update(detector_summary(detector_ids, detectors))
        raw = {
            str(d): strip_metadata(a) if isinstance(a, dict) else None
            for d, a in zip(detector_ids, detectors, strict=True)
        }
    resource = Resource(
        id=f"aws-guardduty://{ctx.account}/{region}",
        type="threat_detection",
        name=f"guardduty {ctx.account} {region}",
        source=source,
        attributes=attributes,
        raw=raw or None,
    )
    return AwsCollected((resource,), reader.problems())


def s3_protection(detector: Mapping[str, Any]) -> bool:
    for feature in detector.get("Features") or ():
        if isinstance(feature, Mapping) and feature.get("Name") == S3_FEATURE:
            return str(feature.get("Status", "")).upper() == "ENABLED"
    s3_logs = (detector.get("DataSources") or {}).get("S3Logs") or {}
    return str(s3_logs.get("Status", "")).upper() == "ENABLED"


def detector_summary(ids: list[Any], detectors: list[Any]) -> dict[str, Any]:
    """enabled/storage_protection of the region (GuardDuty allows one detector per region; if
    several were reported, an enabled one with S3 protection decides)."""
    enabled: bool | Unknown = False
    protected: bool | Unknown = False
    chosen = str(ids[0])
    for detector_id, detector in zip(ids, detectors, strict=True):
        if not isinstance(detector, dict):
            reason = detector if isinstance(detector, Unknown) else Unknown("no answer")
            enabled = enabled if enabled is True else reason
            protected = protected if protected is True else reason
            continue
        if str(detector.get("Status", "")).upper() == "ENABLED":
            if enabled is not True:
                chosen = str(detector_id)
            enabled = True
            if s3_protection(detector):
                protected, chosen = True, str(detector_id)
    return {"enabled": enabled, "storage_protection": protected, "detector_id": chosen}
