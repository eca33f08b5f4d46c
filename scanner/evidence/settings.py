"""settings.json: the scan's settings as evaluated, enough to judge the archived inventory again.

Everything that decides a verdict besides the inventory is here or in a member it names:
which policy folders were loaded (archived under `policies/N/`), which policies were selected
and with which params, which mapping files (under `mappings/`), which frameworks were
reported, the gate's rules, the waivers and baseline read (under `inputs/`) and the evaluation
date. The sources are described for the reader (kind, name, target and options with
credentials masked); nothing in the pack can contact them again.

`origin` records where each archived file was read from, as results.json names it (policy
files by absolute path, waivers and baseline as given), so a re-evaluation that reads the
archived copy can be compared with results.json word for word.

A pack is hostile input to whoever verifies it, so `parse` checks every field's type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.gate import FAIL_ON_CHOICES, GateSettings, Selector


class SettingsError(ValueError):
    """settings.json does not hold what this version writes; the message names the field."""


@dataclass(frozen=True)
class ArchivedFile:
    member: str  # the member name in the pack
    origin: str  # where the scan read it, as results.json shows it


@dataclass(frozen=True)
class PolicyRoot:
    """One `--policies` folder or file (or the built-in pack), archived under `member`."""

    member: str  # `policies/N` (a folder) or `policies/N/NAME.yaml` (a single file)
    is_file: bool
    origin: str  # `built-in` or the path as given
    files: tuple[ArchivedFile, ...] = ()


@dataclass(frozen=True)
class ScanSettings:
    policy_roots: tuple[PolicyRoot, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    params: Mapping[str, Mapping[str, Any]]
    mappings: tuple[ArchivedFile, ...]
    frameworks: tuple[str, ...]
    gate: GateSettings
    as_of: str
    waivers: ArchivedFile | None
    waiver_max_days: int
    baseline: ArchivedFile | None
    sources: tuple[Mapping[str, Any], ...] = ()
    formats: tuple[str, ...] = ()
    bom_with_findings: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": [dict(s) for s in self.sources],
            "policies": {
                "roots": [
                    {
                        "member": r.member,
                        "is_file": r.is_file,
                        "origin": r.origin,
                        "files": [_file_dict(f) for f in r.files],
                    }
                    for r in self.policy_roots
                ],
                "include": list(self.include),
                "exclude": list(self.exclude),
            },
            "params": {k: dict(v) for k, v in self.params.items()},
            "frameworks": {
                "mappings": [_file_dict(f) for f in self.mappings],
                "select": list(self.frameworks),
            },
            "gate": {
                "fail_on": self.gate.fail_on,
                "allow_partial": self.gate.allow_partial,
                "hard_fail_on": self.gate.hard_fail_on.listed(),
                "soft_fail_on": self.gate.soft_fail_on.listed(),
                "soft_fail": self.gate.soft_fail,
            },
            "as_of": self.as_of,
            "waivers": _file_dict(self.waivers) if self.waivers else None,
            "waiver_max_days": self.waiver_max_days,
            "baseline": _file_dict(self.baseline) if self.baseline else None,
            "outputs": {"formats": list(self.formats), "bom_with_findings": self.bom_with_findings},
        }

    def members(self) -> list[str]:
        """Every pack member these settings name (each must be in the manifest)."""
        names = [f.member for r in self.policy_roots for f in r.files]
        names += [f.member for f in self.mappings]
        names += [f.member for f in (self.waivers, self.baseline) if f is not None]
        return names


def _file_dict(f: ArchivedFile) -> dict[str, str]:
    return {"member": f.member, "origin": f.origin}


def parse(doc: Any) -> ScanSettings:
    if not isinstance(doc, dict):
        raise SettingsError("settings.json is not an object")
    policies = _obj(doc, "policies")
    frameworks = _obj(doc, "frameworks")
    gate = _obj(doc, "gate")
    outputs = doc.get("outputs", {})
    roots = []
    for i, root in enumerate(_list(policies, "roots", "policies")):
        where = f"policies.roots[{i}]"
        if not isinstance(root, dict):
            raise SettingsError(f"settings.json: {where} is not an object")
        roots.append(
            PolicyRoot(
                member=_str(root, "member", where),
                is_file=_bool(root, "is_file", where),
                origin=_str(root, "origin", where),
                files=tuple(_archived(f, f"{where}.files") for f in _list(root, "files", where)),
            )
        )
    fail_on = gate.get("fail_on")
    if fail_on not in FAIL_ON_CHOICES:
        raise SettingsError(f"settings.json: gate.fail_on {fail_on!r} is not a severity")
    params = doc.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise SettingsError("settings.json: params is not a mapping of mappings")
    max_days = doc.get("waiver_max_days")
    if not isinstance(max_days, int) or isinstance(max_days, bool):
        raise SettingsError("settings.json: waiver_max_days is not a number of days")
    sources = doc.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise SettingsError("settings.json: sources is not a list of objects")
    return ScanSettings(
        policy_roots=tuple(roots),
        include=_strs(policies, "include", "policies"),
        exclude=_strs(policies, "exclude", "policies"),
        params=params,
        mappings=tuple(
            _archived(f, "frameworks.mappings") for f in _list(frameworks, "mappings", "frameworks")
        ),
        frameworks=_strs(frameworks, "select", "frameworks"),
        gate=GateSettings(
            fail_on=fail_on,
            allow_partial=_bool(gate, "allow_partial", "gate"),
            hard_fail_on=Selector.parse(_strs(gate, "hard_fail_on", "gate")),
            soft_fail_on=Selector.parse(_strs(gate, "soft_fail_on", "gate")),
            soft_fail=_bool(gate, "soft_fail", "gate"),
        ),
        as_of=_str(doc, "as_of", "settings"),
        waivers=_archived(doc["waivers"], "waivers") if doc.get("waivers") is not None else None,
        waiver_max_days=max_days,
        baseline=_archived(doc["baseline"], "baseline")
        if doc.get("baseline") is not None
        else None,
        sources=tuple(sources),
        formats=_strs(outputs, "formats", "outputs") if isinstance(outputs, dict) else (),
        bom_with_findings=bool(outputs.get("bom_with_findings"))
        if isinstance(outputs, dict)
        else False,
    )


def _obj(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise SettingsError(f"settings.json: {key} is not an object")
    return value


def _list(doc: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        raise SettingsError(f"settings.json: {where}.{key} is not a list")
    return value


def _strs(doc: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _list(doc, key, where)
    if not all(isinstance(v, str) for v in values):
        raise SettingsError(f"settings.json: {where}.{key} is not a list of strings")
    return tuple(values)


def _str(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise SettingsError(f"settings.json: {where}.{key} is not a string")
    return value


def _bool(doc: Mapping[str, Any], key: str, where: str) -> bool:
    value = doc.get(key)
    if not isinstance(value, bool):
        raise SettingsError(f"settings.json: {where}.{key} is not true or false")
    return value


def _archived(value: Any, where: str) -> ArchivedFile:
    if not isinstance(value, dict):
        raise SettingsError(f"settings.json: {where} is not an object")
    return ArchivedFile(_str(value, "member", where), _str(value, "origin", where))


def describe_sources(sources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Sources for settings.json: credentials masked (`scanner.redact`, key masking on, since
    options are provider data), trust objects and paths as text."""
    from scanner.redact import redact

    return [redact(_plain(dict(s)), mask_keys=True) for s in sources]


def _plain(value: Any) -> Any:
    """JSON data from option values: dataclasses (trust settings), paths and tuples as text
    and lists; anything else unknown as its `str`."""
    import dataclasses
    from pathlib import PurePath

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
