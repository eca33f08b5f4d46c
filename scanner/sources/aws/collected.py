"""What one AWS collector returns for one region: resources and one-line problems.

Every per-service collector (`sagemaker`, `apigateway`, `ec2`, `guardduty`, and this package's
own S3/IAM/CloudTrail collectors) exposes `collect(ctx: AwsContext, region: str) ->
AwsCollected`; the orchestrator (`source.py`) merges them into the source's `Collection`.
A collector never raises for a denied or failed call: the value becomes `Unknown` and, when
the user should hear about it, a line in `problems`.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.inventory import Resource


@dataclass(frozen=True)
class AwsCollected:
    resources: tuple[Resource, ...] = ()
    problems: tuple[str, ...] = ()
