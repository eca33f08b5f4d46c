"""Attributes no single source can know, computed once every source has reported.

One source rarely sees both ends of a relationship: MLflow knows a version lives at
`s3://b/fraud/3`, the AWS source knows whether bucket `b` is public and which endpoint loads
those files. The policies need both ends on one resource (`storage.holds_production_models`,
`endpoint.served`), and the policy language follows references forward only, so the joins
happen here, between collection and evaluation.

Rules (docs/resource-model.md, "Linking"):
- A pure function of the collected inventory (and the gaps the sources reported): results
  stay re-evaluable offline.
- A value a source reported is never overwritten, except that `holds_models` becomes true when
  an artefact refers to the storage.
- What cannot be decided is `Unknown` with the reason, never a guess. In particular "no data"
  is never "none": a fact about *all* resources of a type ("no production version is stored
  here", "no endpoint runs in this VPC", "no registry entry points at these files") is
  `Unknown` when one of its inputs is Unknown or when resources of that type may be missing
  (a `Gap`: a listing, or a whole source, failed). Only a positive (true, or a list that is
  not empty) survives an unknown input, because more data could only add to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from scanner.artefacts.digests import link_digests
from scanner.inventory import Gap, Inventory, Ref, Resource, Unknown
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

    def __init__(self, inventory: Inventory, gaps: Sequence[Gap] = ()) -> None:
        self.gaps = tuple(gaps)
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

    def missing(self, rtype: str, account: Any = None, region: Any = None) -> Unknown | None:
        """Why resources of `rtype` (in that account and region) may be unreported, if so."""
        for gap in self.gaps:
            if gap.covers(rtype, account, region):
                return Unknown(f"{rtype} resources may be missing: {gap.reason}")
        return None

    def set_default(self, rid: str, key: str, value: Any) -> bool:
        """Set unless a source already reported a value (an Unknown is replaced); True if set."""
        current = self.attrs[rid].get(key)
        if key not in self.attrs[rid] or isinstance(current, Unknown):
            self.attrs[rid][key] = value
            return True
        return False

    def set_explained(self, rid: str, key: str, value: Any, reasons: list[str]) -> None:
        """A linked value with its `<key>_reasons`. Reasons are added only with a value linking
        decided: next to a value a source reported they could contradict it."""
        if self.set_default(rid, key, value):
            self.set_default(rid, key + "_reasons", reasons)

    def name(self, rid: str) -> str:
        resource = self.resources.get(rid)
        return resource.name if resource is not None and resource.name else rid

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


def _high_value_reasons(attrs: Mapping[str, Any], value: bool | Unknown) -> list[str]:
    if isinstance(value, Unknown):
        return [value.reason]
    said = [
        f"{key.replace('_', ' ')} is {attrs[key]}"
        for key in ("classification", "ip_value")
        if isinstance(attrs.get(key), str)
    ]
    return said or ["neither a classification nor an IP value is recorded"]


def link_high_value(a: _Attrs, settings: LinkSettings) -> None:
    for rtype in ("model", "model_version"):
        for rid, attrs in a.of(rtype):
            a.set_default(rid, "high_value", _high_value(attrs, settings))
            a.set_default(
                rid, "high_value_reasons", _high_value_reasons(attrs, attrs["high_value"])
            )


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
        references = attrs.get("references")
        for reference in references if isinstance(references, list) else ():
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


def _first_unknown(*values: Any) -> Unknown | None:
    return next((v for v in values if isinstance(v, Unknown)), None)


def _or_false(*reasons: Unknown | None) -> bool | Unknown:
    """The first reason a negative is not known, else the negative (false). Unknown refuses
    to be tested for truth, so `a or b` is never used on these."""
    return next((r for r in reasons if r is not None), False)


def link_registration(a: _Attrs) -> None:
    registered_by: dict[str, list[str]] = defaultdict(list)
    # Why "no registry entry points here" cannot be said: entries that may be missing, or an
    # entry whose files are unknown (it could point anywhere).
    unsure = _first_unknown(a.missing("model_version"), a.missing("endpoint"))
    for rid, attrs in [*a.of("model_version"), *a.of("endpoint")]:
        for target in _refs(attrs.get("artefact")) + _refs(attrs.get("artefacts")):
            registered_by[target].append(rid)
        blind = _first_unknown(attrs.get("artefact"), attrs.get("artefacts"))
        if unsure is None and blind is not None:
            unsure = Unknown(f"the files of {rid} are unknown: {blind.reason}")
    registries_present = bool(a.by_type.get("model_version"))
    for rid, _attrs in a.of("artefact"):
        entries = sorted(set(registered_by.get(rid, [])))
        if entries:
            a.set_default(rid, "registered_by", [Ref(e) for e in entries])
            a.set_default(rid, "registered", True)
            names = [a.resources[e].name if e in a.resources else e for e in entries]
            a.set_default(rid, "registered_reasons", [f"used by {n}" for n in names])
        elif unsure is not None:
            a.set_default(rid, "registered_by", unsure)
            a.set_default(rid, "registered", unsure)
            a.set_default(rid, "registered_reasons", [unsure.reason])
        elif registries_present:
            a.set_default(rid, "registered_by", [])
            a.set_default(rid, "registered", False)
            a.set_default(
                rid,
                "registered_reasons",
                ["no model registry version or endpoint in this scan points at these files"],
            )
        else:
            a.set_default(rid, "registered_by", [])
            a.set_default(
                rid,
                "registered",
                Unknown("no model registry in this scan (add an mlflow: or aws: source)"),
            )


def link_serving(a: _Attrs) -> None:
    """Endpoints gain the registry versions whose artefact they load; versions gain their
    endpoints; each endpoint says, per served version, whether it was authorised."""
    versions_by_artefact: dict[str, list[str]] = defaultdict(list)
    # A version whose files are unknown could be what any endpoint loads.
    blind_versions: list[tuple[str, Unknown]] = []
    for rid, attrs in a.of("model_version"):
        for target in _refs(attrs.get("artefact")):
            versions_by_artefact[target].append(rid)
        if isinstance(attrs.get("artefact"), Unknown):
            blind_versions.append((rid, attrs["artefact"]))
    deployments: dict[str, list[str]] = defaultdict(list)
    # Why "served by no endpoint" cannot be said of a version.
    unsure_deployments: Unknown | None = a.missing("endpoint")
    for eid, attrs in a.of("endpoint"):
        listed, files = attrs.get("model_versions"), attrs.get("artefacts")
        named = _refs(listed)
        via_files = [v for art in _refs(files) for v in versions_by_artefact[art]]
        versions = sorted(set(named) | set(via_files))
        for v in versions:
            deployments[v].append(eid)
        # What this endpoint serves is only partly known when its model list or files are
        # unknown, when a version's files are unknown, or when versions may be missing.
        partial = _first_unknown(listed, files)
        if partial is None and _refs(files):
            partial = _first_unknown(
                a.missing("model_version"),
                *(Unknown(f"the files of {v} are unknown: {u.reason}") for v, u in blind_versions),
            )
        if not isinstance(listed, Unknown):
            attrs["model_versions"] = (
                [Ref(v) for v in versions] if versions or partial is None else partial
            )
        if unsure_deployments is None and _first_unknown(listed, files) is not None:
            unsure_deployments = Unknown(f"what {eid} serves is unknown")
        endpoint_name = a.resources[eid].name
        served = [_served_entry(a, v, eid, endpoint_name) for v in versions]
        a.set_default(eid, "served", served if partial is None or served else partial)
        value, reasons = _serves_high_value(a, versions, partial)
        a.set_explained(eid, "serves_high_value", value, reasons)
    for vid, _attrs in a.of("model_version"):
        found = sorted(deployments.get(vid, []))
        if not found and unsure_deployments is not None:
            a.set_default(vid, "deployments", unsure_deployments)
        else:
            a.set_default(vid, "deployments", [Ref(e) for e in found])


def _serves_high_value(
    a: _Attrs, versions: list[str], partial: Unknown | None
) -> tuple[bool | Unknown, list[str]]:
    """Whether any served version is high-value, and which versions decided it. A served
    version no source reports, or a partly known model list (`partial`), leaves "no" unsaid."""
    high = [
        (
            v,
            a.attrs[v].get("high_value")
            if v in a.attrs
            else Unknown(f"served version {v} is not reported by any configured source"),
        )
        for v in versions
    ]
    decisive = [v for v, h in high if h is True]
    if decisive:
        return True, [_why_high_value(a, v) for v in decisive]
    unknown = [(v, h) for v, h in high if isinstance(h, Unknown)]
    if unknown:
        v, h = unknown[0]
        return h, [f"cannot tell whether {a.name(v)} is high-value: {h.reason}"]
    if partial is not None:
        return partial, [f"what it serves is only partly known: {partial.reason}"]
    if not versions:
        return False, ["serves no model version that a registry in this scan reports"]
    names = ", ".join(a.name(v) for v in versions)
    return False, [f"serves {names}, none of them high-value"]


def _why_high_value(a: _Attrs, vid: str) -> str:
    said = a.attrs[vid].get("high_value_reasons")
    why = "; ".join(r for r in said if isinstance(r, str)) if isinstance(said, list) else ""
    return f"serves {a.name(vid)}, which is high-value" + (f" ({why})" if why else "")


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


def _storage_of(a: _Attrs, artefact: str) -> str | None:
    """The storage an artefact is in: as reported, else the root of its URI when that storage
    is reported (a registry's URI whose files the storage's listing did not show)."""
    reported = _refs(a.attrs.get(artefact, {}).get("storage"))
    if reported:
        return reported[0]
    for scheme in STORAGE_SCHEMES:
        if artefact.startswith(scheme):
            parts = artefact[len(scheme) :].split("/")
            root = scheme + ("/".join(parts[:2]) if scheme == "azure://" else parts[0])
            return root if root in a.attrs else None
    return None


def link_storage_contents(a: _Attrs) -> None:
    holds: dict[str, set[str]] = defaultdict(set)
    for aid, attrs in a.of("artefact"):
        for sid in _refs(attrs.get("storage")):
            holds[sid].add(aid)
    # For each of the two facts: storages known to hold such a version (with the versions that
    # make it so), storages that might (the version's stage or value is unknown), and a reason
    # it might be anywhere (versions may be missing, or a version that may qualify has unknown
    # files).
    known: dict[str, dict[str, list[str]]] = {"production": {}, "high_value": {}}
    maybe: dict[str, dict[str, Unknown]] = {"production": {}, "high_value": {}}
    anywhere: dict[str, Unknown | None] = dict.fromkeys(known, a.missing("model_version"))
    said = {"production": "in production", "high_value": "high-value"}
    none_here = {
        "production": "no model version in production in this scan keeps its files here",
        "high_value": "no high-value model version in this scan keeps its files here",
    }
    for vid, attrs in a.of("model_version"):
        tests = {
            "production": _is(attrs.get("stage"), "production"),
            "high_value": attrs.get("high_value", False),
        }
        artefact = attrs.get("artefact")
        for fact, value in tests.items():
            if value is False or (value is not True and not isinstance(value, Unknown)):
                continue
            if isinstance(artefact, Unknown):
                if anywhere[fact] is None:
                    anywhere[fact] = Unknown(f"the files of {vid} are unknown: {artefact.reason}")
                continue
            for art in _refs(artefact):
                where = _storage_of(a, art)
                if where is None:
                    continue
                if value is True:
                    known[fact].setdefault(where, []).append(
                        f"holds {a.name(vid)} (files at {a.name(art)}), which is {said[fact]}"
                    )
                else:
                    maybe[fact].setdefault(where, value)
    for sid, attrs in a.of("storage"):
        if holds.get(sid):
            attrs["holds_models"] = True  # the one upgrade allowed: files are known to be there
        for fact, key in (
            ("production", "holds_production_models"),
            ("high_value", "holds_high_value_models"),
        ):
            if sid in known[fact]:
                a.set_explained(sid, key, True, sorted(set(known[fact][sid])))
                continue
            value = _or_false(maybe[fact].get(sid), anywhere[fact])
            reasons = [value.reason] if isinstance(value, Unknown) else [none_here[fact]]
            a.set_explained(sid, key, value, reasons)


def _is(value: Any, expected: str) -> bool | Unknown:
    return value if isinstance(value, Unknown) else value == expected


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
    hosted: dict[str, set[str]] = defaultdict(set)
    # (account, region) -> why an endpoint there may run in a VPC nobody can name.
    blind: dict[tuple[Any, Any], Unknown] = {}
    for eid, e in a.of("endpoint"):
        for vpc in _refs(e.get("vpc")) + _refs(e.get("vpcs")):
            hosted[vpc].add(eid)
        unknown = _first_unknown(e.get("vpc"), e.get("vpcs"))
        if unknown is not None:
            blind.setdefault((e.get("account"), e.get("region")), unknown)
    for nid, attrs in a.of("network"):
        if nid in hosted:
            a.set_explained(
                nid,
                "hosts_models",
                True,
                [f"endpoint {a.name(e)} runs in it" for e in sorted(hosted[nid])],
            )
            continue
        where = (attrs.get("account"), attrs.get("region"))
        value = _or_false(blind.get(where), a.missing("endpoint", *where))
        a.set_explained(
            nid,
            "hosts_models",
            value,
            [value.reason]
            if isinstance(value, Unknown)
            else ["no model endpoint in this scan runs in it"],
        )
    places: set[tuple[Any, Any]] = set()
    unsure_places: dict[tuple[Any, Any], Unknown] = {}
    for _sid, s in a.of("storage"):
        where = (s.get("account"), s.get("region"))
        if s.get("holds_models") is True:
            places.add(where)
        elif isinstance(s.get("holds_models"), Unknown):
            unsure_places.setdefault(where, s["holds_models"])
    for _eid, e in a.of("endpoint"):
        places.add((e.get("account"), e.get("region")))
    for tid, attrs in a.of("threat_detection"):
        where = (attrs.get("account"), attrs.get("region"))
        if where in places:
            a.set_default(tid, "holds_models", True)
            continue
        unsure = _or_false(
            unsure_places.get(where), a.missing("storage", *where), a.missing("endpoint", *where)
        )
        a.set_default(tid, "holds_models", unsure)


ANYONE = "*"


def link_readers(a: _Attrs) -> None:
    """What each principal can read, from every storage's `access_grants`.

    A source knows who can read its buckets; which buckets one principal can read spans every
    account and source that reports storage (a role of one account named in another's bucket
    policy), so it is joined here, where a sharded scan's merge step sees the whole estate. A
    principal a grant names that no source reports is added: `*` as the anonymous reader, any
    other as an external principal of an account that was not scanned. One storage whose
    grants are unreadable makes every principal of its provider Unknown, and a gap over
    storage (a failed bucket listing) every principal of the gap's provider (of every
    provider, when the gap does not say): a missing grant could be any of theirs.
    """
    grants: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    unreadable: dict[str, Unknown] = {}

    def unlisted(provider: str) -> Unknown | None:
        # A bucket that was not listed may grant anyone of its cloud anything: no such
        # principal's reads are known then (never "reads nothing").
        gap = next((g for g in a.gaps if g.covers("storage", provider=provider or None)), None)
        return None if gap is None else Unknown(f"some buckets are unlisted ({gap.reason})")

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
            resource = pid.split(":", 5)[-1]
            # `arn:aws:iam::444455556666:root` is the whole account: named so, not "root".
            kind, name = "external", f"account {account}" if resource == "root" else resource
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
        provider = str(attrs.get("provider", ""))
        unknown = unlisted(provider)  # Unknown is falsy: `or` would skip it
        if unknown is None:
            unknown = unreadable.get(provider)
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
        unsafe = ser.get("unsafe")
        if "unsafe_reasons" not in ser and isinstance(unsafe, list):
            ser["unsafe_reasons"] = [_unsafe_words(item) for item in unsafe]
        attrs["serialization"] = ser


def _unsafe_words(item: Any) -> str:
    """`model.pkl imports os.system (runs operating-system commands) when loaded`."""
    if not isinstance(item, Mapping):
        return str(item)
    what = item.get("global") or item.get("layer") or "code"
    risk = item.get("risk") or item.get("reason")
    where = item.get("file", "a file")
    return f"{where} imports {what}" + (f" ({risk})" if risk else "") + " when loaded"


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


def link(
    inventory: Inventory, settings: LinkSettings | None = None, gaps: Sequence[Gap] = ()
) -> Inventory:
    """The inventory with every linked attribute set; `gaps`: what the sources could not list
    (`scanner.inventory.Gap`), which makes negative facts about those types Unknown."""
    settings = settings or LinkSettings()
    attrs = _Attrs(inventory, gaps)
    for step in STEPS:
        step(attrs, settings)
    inventory = attrs.frozen()
    # Digests last: they compare a version's record with the files of its (linked) artefact.
    updated = {r.id: r for r in link_digests(inventory)}
    if updated:
        inventory = Inventory(updated.get(r.id, r) for r in inventory)
    return inventory
