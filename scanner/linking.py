"""Attributes no single source can know, computed once every source has reported.

One source rarely sees both ends of a relationship: MLflow knows a version lives at
`s3://b/fraud/3`, the AWS source knows whether bucket `b` is public and which endpoint loads
those files. The policies need both ends on one resource (`storage.holds_production_models`,
`endpoint.served`), and the policy language follows references forward only, so the joins
happen here, between collection and evaluation.

Rules (docs/resource-model.md, "Linking"):
- A pure function of the collected inventory: results stay re-evaluable offline.
- A value a source reported is never overwritten, except that `holds_models` becomes true when
  an artefact refers to the storage.
- What cannot be decided is `Unknown` with the reason, never a guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scanner.artefacts.digests import link_digests
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.linking_reads import link_reads

HIGH_VALUE_CLASSIFICATIONS = frozenset({"restricted", "confidential"})
HIGH_VALUE_IP = frozenset({"high"})
KERAS_FORMATS = frozenset({"keras", "hdf5", "keras-h5"})
STORAGE_SCHEMES = ("s3://", "gs://", "azure://")


@dataclass(frozen=True)
class LinkSettings:
    high_value_classifications: frozenset[str] = HIGH_VALUE_CLASSIFICATIONS
    high_value_ip: frozenset[str] = HIGH_VALUE_IP


class _Attrs:
    """Mutable copies of every resource's attributes while linking; frozen again at the end."""

    def __init__(self, inventory: Inventory) -> None:
        self.resources = {r.id: r for r in inventory}
        self.attrs: dict[str, dict[str, Any]] = {r.id: dict(r.attributes) for r in inventory}
        self.by_type: dict[str, list[str]] = defaultdict(list)
        for r in inventory:
            self.by_type[r.type].append(r.id)

    def create(self, resource: Resource) -> None:
        """A resource no source reports but a reference implies (an external reader)."""
        self.resources[resource.id] = resource
        self.attrs[resource.id] = dict(resource.attributes)
        self.by_type[resource.type].append(resource.id)

    def of(self, rtype: str) -> list[tuple[str, dict[str, Any]]]:
        return [(rid, self.attrs[rid]) for rid in self.by_type.get(rtype, [])]

    def set_default(self, rid: str, key: str, value: Any) -> None:
        """Set unless a source already reported a value (an Unknown is replaced)."""
        current = self.attrs[rid].get(key)
        if key not in self.attrs[rid] or isinstance(current, Unknown):
            self.attrs[rid][key] = value

    def frozen(self) -> Inventory:
        return Inventory(replace(r, attributes=self.attrs[r.id]) for r in self.resources.values())


def _refs(value: Any) -> list[str]:
    if isinstance(value, Ref):
        return [value.id]
    if isinstance(value, list):
        return [v.id for v in value if isinstance(v, Ref)]
    return []


def _text(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _high_value(attrs: Mapping[str, Any], settings: LinkSettings) -> bool | Unknown:
    classification, ip_value = attrs.get("classification"), attrs.get("ip_value")
    if _text(classification) in settings.high_value_classifications:
        return True
    if _text(ip_value) in settings.high_value_ip:
        return True
    unknown = [v for v in (classification, ip_value) if isinstance(v, Unknown)]
    if unknown:
        return Unknown(f"cannot tell whether high-value: {unknown[0].reason}")
    return False


def link_high_value(a: _Attrs, settings: LinkSettings) -> None:
    for rtype in ("model", "model_version"):
        for rid, attrs in a.of(rtype):
            a.set_default(rid, "high_value", _high_value(attrs, settings))


def _closest_artefact(uri: str, artefacts: Iterable[str]) -> str | None:
    """The reported artefact at, above or below a registry's URI (registries and storage
    listings disagree by a path segment or two: `…/model` vs `…/model/model.pkl`)."""
    uri = uri.rstrip("/")
    above = [a for a in artefacts if uri.startswith(a.rstrip("/") + "/")]
    below = [a for a in artefacts if a.startswith(uri + "/")]
    if above:
        return max(above, key=len)
    if len(below) == 1:
        return below[0]
    return None


def _image_artefacts(a: _Attrs) -> dict[str, list[str]]:
    """Image artefacts by every reference that names them (`oci://REGISTRY/REPO:TAG`), one
    per platform of an index."""
    out: dict[str, list[str]] = defaultdict(list)
    for rid, attrs in a.of("artefact"):
        for reference in attrs.get("references") or ():
            if isinstance(reference, str):
                out[f"oci://{reference}"].append(rid)
    return out


def link_artefact_refs(a: _Attrs) -> None:
    artefacts = a.by_type.get("artefact", [])
    known = set(artefacts)
    images = _image_artefacts(a)

    def relink(value: Any) -> list[Any]:
        if isinstance(value, Ref) and value.id not in known:
            if value.id in images:  # an image by its tag: every platform it names
                return [Ref(i) for i in sorted(images[value.id])]
            match = _closest_artefact(value.id, artefacts)
            return [Ref(match) if match else value]
        return [value]

    for _rid, attrs in [*a.of("model_version"), *a.of("endpoint")]:
        if "artefact" in attrs:
            attrs["artefact"] = relink(attrs["artefact"])[0]
        if isinstance(attrs.get("artefacts"), list):
            attrs["artefacts"] = [r for v in attrs["artefacts"] for r in relink(v)]


def link_storage_refs(a: _Attrs) -> None:
    storages = set(a.by_type.get("storage", []))
    for rid, attrs in a.of("artefact"):
        if "storage" in attrs:
            continue
        for scheme in STORAGE_SCHEMES:
            if rid.startswith(scheme):
                rest = rid[len(scheme) :]
                parts = rest.split("/")
                root = scheme + ("/".join(parts[:2]) if scheme == "azure://" else parts[0])
                if root in storages:
                    attrs["storage"] = Ref(root)


def link_registration(a: _Attrs) -> None:
    registered_by: dict[str, list[str]] = defaultdict(list)
    for rid, attrs in [*a.of("model_version"), *a.of("endpoint")]:
        for target in _refs(attrs.get("artefact")) + _refs(attrs.get("artefacts")):
            registered_by[target].append(rid)
    registries_present = bool(a.by_type.get("model_version"))
    for rid, _attrs in a.of("artefact"):
        entries = sorted(set(registered_by.get(rid, [])))
        a.set_default(rid, "registered_by", [Ref(e) for e in entries])
        if entries:
            a.set_default(rid, "registered", True)
        elif registries_present:
            a.set_default(rid, "registered", False)
        else:
            a.set_default(
                rid,
                "registered",
                Unknown("no model registry in this scan (add an mlflow: or aws: source)"),
            )


def link_serving(a: _Attrs) -> None:
    """Endpoints gain the registry versions whose artefact they load; versions gain their
    endpoints; each endpoint says, per served version, whether it was authorised."""
    versions_by_artefact: dict[str, list[str]] = defaultdict(list)
    for rid, attrs in a.of("model_version"):
        for target in _refs(attrs.get("artefact")):
            versions_by_artefact[target].append(rid)
    deployments: dict[str, list[str]] = defaultdict(list)
    for eid, attrs in a.of("endpoint"):
        named = _refs(attrs.get("model_versions"))
        via_files = [v for art in _refs(attrs.get("artefacts")) for v in versions_by_artefact[art]]
        versions = sorted(set(named) | set(via_files))
        if not isinstance(attrs.get("model_versions"), Unknown):
            attrs["model_versions"] = [Ref(v) for v in versions]
        for v in versions:
            deployments[v].append(eid)
        endpoint_name = a.resources[eid].name
        served = [_served_entry(a, v, eid, endpoint_name) for v in versions]
        a.set_default(eid, "served", served)
        high = [a.attrs[v].get("high_value") for v in versions if v in a.attrs]
        if any(h is True for h in high):
            a.set_default(eid, "serves_high_value", True)
        elif any(isinstance(h, Unknown) for h in high):
            a.set_default(eid, "serves_high_value", next(h for h in high if isinstance(h, Unknown)))
        else:
            a.set_default(eid, "serves_high_value", False)
    for vid, _attrs in a.of("model_version"):
        a.set_default(vid, "deployments", [Ref(e) for e in sorted(deployments.get(vid, []))])


def _served_entry(a: _Attrs, vid: str, eid: str, endpoint_name: str) -> dict[str, Any]:
    if vid not in a.attrs:
        reason = Unknown(f"served version {vid} is not reported by any configured source")
        return {"version": Ref(vid), "authorized": reason, "stage": reason, "retired": reason}
    v = a.attrs[vid]
    allowed = v.get("authorized_deployments")
    if isinstance(allowed, Unknown):
        authorized: bool | Unknown = allowed
    elif isinstance(allowed, list):
        authorized = eid in allowed or endpoint_name in allowed
    else:
        authorized = False
    return {
        "version": Ref(vid),
        "authorized": authorized,
        "stage": v.get("stage", Unknown("the registry reports no stage")),
        "retired": v.get("retired", False),
    }


def link_storage_contents(a: _Attrs) -> None:
    holds: dict[str, set[str]] = defaultdict(set)
    for aid, attrs in a.of("artefact"):
        for sid in _refs(attrs.get("storage")):
            holds[sid].add(aid)
    production: set[str] = set()
    high_value: set[str] = set()
    for _vid, attrs in a.of("model_version"):
        for art in _refs(attrs.get("artefact")):
            for sid in _refs(a.attrs.get(art, {}).get("storage")):
                if attrs.get("stage") == "production":
                    production.add(sid)
                if attrs.get("high_value") is True:
                    high_value.add(sid)
    for sid, attrs in a.of("storage"):
        if holds.get(sid):
            attrs["holds_models"] = True  # the one upgrade allowed: files are known to be there
        a.set_default(sid, "holds_production_models", sid in production)
        a.set_default(sid, "holds_high_value_models", sid in high_value)


def link_traffic(a: _Attrs) -> None:
    for tid, attrs in a.of("traffic"):
        for eid in _refs(attrs.get("endpoint")):
            if eid not in a.attrs:
                continue
            a.set_default(eid, "traffic", Ref(tid))
            a.set_default(tid, "limit_ratio", _limit_ratio(a.attrs[eid], attrs))


def _limit_ratio(endpoint: Mapping[str, Any], traffic: Mapping[str, Any]) -> float | Unknown:
    rate_limit = endpoint.get("rate_limit")
    limit = rate_limit.get("daily_per_client") if isinstance(rate_limit, Mapping) else None
    baseline = traffic.get("baseline")
    p99 = baseline.get("p99_daily") if isinstance(baseline, Mapping) else None
    for value, what in ((limit, "the endpoint's per-client daily limit"), (p99, "the p99")):
        if isinstance(value, Unknown):
            return Unknown(f"{what} is unknown: {value.reason}")
    if not isinstance(limit, int | float) or isinstance(limit, bool):
        return Unknown("the endpoint has no per-client daily limit to compare with its traffic")
    if not isinstance(p99, int | float) or isinstance(p99, bool) or p99 <= 0:
        return Unknown("the traffic analysis has no positive p99 of daily use per client")
    return round(limit / p99, 3)


def link_hosting(a: _Attrs) -> None:
    """Networks and threat detectors matter where models are: endpoints' VPCs, and the
    accounts and regions holding model storage or endpoints."""
    vpcs = {v for _eid, e in a.of("endpoint") for v in _refs(e.get("vpc")) + _refs(e.get("vpcs"))}
    for nid, _attrs in a.of("network"):
        a.set_default(nid, "hosts_models", nid in vpcs)
    places = set()
    for _sid, s in a.of("storage"):
        if s.get("holds_models") is True:
            places.add((s.get("account"), s.get("region")))
    for _eid, e in a.of("endpoint"):
        places.add((e.get("account"), e.get("region")))
    for tid, attrs in a.of("threat_detection"):
        a.set_default(tid, "holds_models", (attrs.get("account"), attrs.get("region")) in places)


ANYONE = "*"


def link_readers(a: _Attrs) -> None:
    """What each principal can read, from every storage's `access_grants`.

    A source knows who can read its buckets; which buckets one principal can read spans every
    account and source that reports storage (a role of one account named in another's bucket
    policy), so it is joined here, where a sharded scan's merge step sees the whole estate. A
    principal a grant names that no source reports is added: `*` as the anonymous reader, any
    other as an external principal of an account that was not scanned. One storage whose
    grants are unreadable makes every principal of its provider Unknown: a missing grant
    could be anyone's.
    """
    grants: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    unreadable: dict[str, Unknown] = {}
    first_source: dict[str, str] = {}
    for sid in sorted(a.by_type.get("storage", [])):
        attrs = a.attrs[sid]
        listed = attrs.get("access_grants")
        provider = str(attrs.get("provider", ""))
        if isinstance(listed, Unknown):
            unreadable.setdefault(
                provider, Unknown(f"some bucket's grants are unreadable ({listed.reason})")
            )
            continue
        if not isinstance(listed, list):
            continue
        for grant in listed:
            if not isinstance(grant, Mapping) or not isinstance(grant.get("principal"), Ref):
                continue
            pid = grant["principal"].id
            entry = {k: v for k, v in grant.items() if k != "principal"}
            grants[pid].append((sid, {"storage": Ref(sid), **entry}))
            first_source.setdefault(pid, a.resources[sid].source)
            first_source.setdefault(f"provider:{pid}", provider)
    for pid in sorted(grants):
        if pid in a.attrs:
            continue
        provider = first_source[f"provider:{pid}"]
        admin: bool | Unknown
        account: str | None
        if pid == ANYONE:
            kind, name, account, admin = "anonymous", "anyone", None, False
        else:
            parts = pid.split(":")
            account = parts[4] if len(parts) > 4 and parts[0] == "arn" else "unknown"
            kind, name = "external", pid.split(":", 5)[-1]
            admin = Unknown(f"account {account} is not scanned")
        attrs = {
            "provider": provider,
            "kind": kind,
            "account": account,
            "arn": pid,
            "admin": admin,
            "cross_account": True,
        }
        a.create(Resource(pid, "principal", name, first_source[pid], attrs))
    for pid, attrs in a.of("principal"):
        unknown = unreadable.get(str(attrs.get("provider", "")))
        if unknown is not None:
            a.set_default(pid, "can_read", unknown)
            a.set_default(pid, "grants", unknown)
            continue
        mine = sorted(
            grants.get(pid, []),
            key=lambda g: (g[0], str(g[1].get("policy")), str(g[1].get("statement")),
                           str(g[1].get("via"))),
        )  # fmt: skip
        a.set_default(pid, "can_read", [Ref(s) for s in sorted({s for s, _ in mine})])
        a.set_default(pid, "grants", [g for _, g in mine])


def link_serialization_defaults(a: _Attrs) -> None:
    """A serialization scan that did not run is Unknown for pickle-based or Keras files, and
    vacuously clean for formats that cannot carry code."""
    for _aid, attrs in a.of("artefact"):
        ser = attrs.get("serialization")
        if not isinstance(ser, Mapping):
            continue
        ser = dict(ser)
        if "unsafe" not in ser:
            pickled = ser.get("pickle_based")
            if pickled is False:
                ser["unsafe"] = []
            elif isinstance(pickled, Unknown):
                ser["unsafe"] = Unknown(f"not scanned for unsafe imports: {pickled.reason}")
            else:
                ser["unsafe"] = Unknown("pickle-based files were not scanned for unsafe imports")
        if "lambda_layers" not in ser:
            formats = ser.get("formats")
            keras = isinstance(formats, list) and bool(KERAS_FORMATS & set(formats))
            ser["lambda_layers"] = (
                Unknown("Keras files were not checked for Lambda layers")
                if keras or not isinstance(formats, list)
                else []
            )
        attrs["serialization"] = ser


def link_access_logs(a: _Attrs) -> None:
    """Who can read each bucket joined with who did (`scanner/linking_reads.py`)."""
    updates = link_reads(
        a.of("access_log"),
        a.of("storage"),
        a.of("artefact"),
        [(pid, a.resources[pid].name, attrs) for pid, attrs in a.of("principal")],
    )
    for rid, values in updates.items():
        for key, value in values.items():
            a.set_default(rid, key, value)


# Order matters: refs are fixed before registration, high value before storage and serving.
STEPS: tuple[Callable[[_Attrs, LinkSettings], None], ...] = (
    lambda a, s: link_readers(a),
    lambda a, s: link_storage_refs(a),
    lambda a, s: link_artefact_refs(a),
    link_high_value,
    lambda a, s: link_registration(a),
    lambda a, s: link_serving(a),
    lambda a, s: link_storage_contents(a),
    lambda a, s: link_traffic(a),
    lambda a, s: link_hosting(a),
    lambda a, s: link_serialization_defaults(a),
    lambda a, s: link_access_logs(a),
)


def link(inventory: Inventory, settings: LinkSettings | None = None) -> Inventory:
    settings = settings or LinkSettings()
    attrs = _Attrs(inventory)
    for step in STEPS:
        step(attrs, settings)
    inventory = attrs.frozen()
    # Digests last: they compare a version's record with the files of its (linked) artefact.
    updated = {r.id: r for r in link_digests(inventory)}
    if updated:
        inventory = Inventory(updated.get(r.id, r) for r in inventory)
    return inventory
