"""VPCs → `network` with flow logs. `hosts_models` is linked later from endpoints' `vpc` refs.

Two paginated calls per region (DescribeVpcs, DescribeFlowLogs), whatever the number of VPCs.
A VPC's flow logs are `enabled` when a VPC-level flow log is active, delivering (not
`FAILED`) and records accepted traffic (`ALL` or `ACCEPT`): a reject-only log does not show
what left the network, which is what MW-NET-02 asks for. Subnet- or interface-level flow logs
are not counted (they cover part of the VPC).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from scanner.inventory import Resource, Unknown
from scanner.redact import redact, redact_uri
from scanner.sources.aws.collected import AwsCollected
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.sagemaker_calls import Reader
from scanner.sources.aws.sagemaker_parse import tag_map

EGRESS_TRAFFIC = frozenset({"ALL", "ACCEPT"})


def collect(ctx: AwsContext, region: str, source: str) -> AwsCollected:
    reader = Reader(ctx, "ec2", region)
    vpcs = reader.pages("ec2", "describe_vpcs", "Vpcs", item_key="VpcId")
    if not isinstance(vpcs, list):
        return AwsCollected(problems=reader.problems())
    flow_logs = reader.pages("ec2", "describe_flow_logs", "FlowLogs", item_key="ResourceId")
    by_resource: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    if isinstance(flow_logs, list):
        for log in flow_logs:
            if isinstance(log, Mapping) and log.get("ResourceId"):
                by_resource[str(log["ResourceId"])].append(log)
    resources = [
        _network(vpc, by_resource, flow_logs, ctx.account, region, source)
        for vpc in vpcs
        if isinstance(vpc, Mapping) and vpc.get("VpcId")
    ]
    return AwsCollected(tuple(resources), reader.problems())


def flow_log_summary(logs: list[Mapping[str, Any]]) -> dict[str, Any]:
    """`flow_logs` {enabled, logs}: see the module docstring for what counts as enabled."""
    described = [
        {
            "id": str(log.get("FlowLogId", "")),
            "status": str(log.get("FlowLogStatus", "")).lower(),
            "delivery": str(log.get("DeliverLogsStatus", "")).lower(),
            "traffic_type": str(log.get("TrafficType", "")).lower(),
            "destination_type": str(log.get("LogDestinationType", "")),
            "destination": redact_uri(
                str(log.get("LogDestination") or log.get("LogGroupName") or "")
            ),
        }
        for log in logs
    ]
    enabled = any(
        str(log.get("FlowLogStatus", "")).upper() == "ACTIVE"
        and str(log.get("DeliverLogsStatus", "")).upper() != "FAILED"
        and str(log.get("TrafficType", "")).upper() in EGRESS_TRAFFIC
        for log in logs
    )
    return {"enabled": enabled, "logs": sorted(described, key=lambda d: d["id"])}


def _network(
    vpc: Mapping[str, Any],
    by_resource: Mapping[str, list[Mapping[str, Any]]],
    flow_logs: list[Any] | Unknown | None,
    account: str,
    region: str,
    source: str,
) -> Resource:
    vpc_id = str(vpc["VpcId"])
    owner = str(vpc.get("OwnerId") or account)
    tags = tag_map(vpc.get("Tags") or ())
    attributes: dict[str, Any] = {
        "provider": "aws",
        "account": owner,
        "region": region,
        "vpc_id": vpc_id,
        "is_default": bool(vpc.get("IsDefault")),
        "tags": redact(tags, mask_keys=True),
        "flow_logs": (
            flow_log_summary(by_resource.get(vpc_id, []))
            if isinstance(flow_logs, list)
            else {"enabled": flow_logs if isinstance(flow_logs, Unknown) else Unknown("no answer")}
        ),
    }
    if vpc.get("CidrBlock"):
        attributes["cidr"] = str(vpc["CidrBlock"])
    return Resource(
        id=f"arn:aws:ec2:{region}:{owner}:vpc/{vpc_id}",
        type="network",
        name=tags.get("Name") or vpc_id,
        source=source,
        attributes=attributes,
        raw=redact(
            {"vpc": dict(vpc), "flow_logs": list(by_resource.get(vpc_id, []))}, mask_keys=True
        ),
    )
