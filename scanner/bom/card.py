"""Model-card facts a BOM takes from optional attributes and tags.

Task, architecture, licence, base models and the MLflow signature are not in every source's
resources; where a source does not set the attribute, a tag of the same name (version tags over
model tags) gives it. Considerations (intended use, limitations…) come from tags only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scanner.bom.model import BaseModel, Considerations, Model
from scanner.bom.values import items, mapping, ref_id, text

APPROACHES = frozenset(
    {"supervised", "unsupervised", "reinforcement-learning", "semi-supervised", "self-supervised"}
)
CONSIDERATION_TAGS = {
    "intended_users": "users",
    "intended_use": "use_cases",
    "limitations": "limitations",
    "tradeoffs": "tradeoffs",
    "ethical_considerations": "ethical",
}


def tags_of(*sources: Mapping[str, Any]) -> dict[str, str]:
    """Tags with the later sources overriding the earlier ones (model, then version)."""
    out: dict[str, str] = {}
    for attrs in sources:
        for key, value in mapping(attrs.get("tags")).items():
            if isinstance(value, str) and value.strip():
                out[key] = value
    return out


def pick(attrs: Mapping[str, Any], tags: Mapping[str, str], name: str) -> str | None:
    return text(attrs.get(name)) or text(tags.get(name))


def columns(value: Any) -> tuple[str, ...]:
    """MLflow signature columns as short format strings (`age: double`, `tensor float32
    [-1, 784]`). MLflow stores each side as JSON text in the MLmodel file; both the text and
    the parsed list are accepted."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ()
    out = []
    for column in value if isinstance(value, list) else []:
        if not isinstance(column, Mapping):
            continue
        name = text(column.get("name"))
        kind = text(column.get("type"))
        spec = mapping(column.get("tensor-spec"))
        if kind == "tensor" and spec:
            described = f"tensor {spec.get('dtype', '?')} {json.dumps(spec.get('shape'))}"
        elif kind is not None:
            described = kind
        else:
            described = json.dumps(column, sort_keys=True, ensure_ascii=False)
        out.append(f"{name}: {described}" if name else described)
    return tuple(out)


def bases(attrs: Mapping[str, Any], tags: Mapping[str, str]) -> tuple[BaseModel, ...]:
    listed = items(attrs.get("base_models"))
    if listed is None and "base_model" in tags:
        listed = [p.strip() for p in tags["base_model"].split(",") if p.strip()]
    out = []
    for item in listed or []:
        target = ref_id(item)
        if target is not None:
            out.append(BaseModel(name=target, ref=target))
        elif text(item):
            out.append(BaseModel(name=item, ref=None))
    return tuple(out)


def link_bases(models: list[Model]) -> list[Model]:
    """A base model named by reference keeps its bom-ref only when it is in this BOM."""
    present = {m.ref: m for m in models}
    linked = []
    for m in models:
        if any(b.ref is not None and b.ref not in present for b in m.base_models):
            bases = tuple(
                b if b.ref is None or b.ref in present else BaseModel(b.name, None)
                for b in m.base_models
            )
            m = replace(m, base_models=bases)
        linked.append(m)
    return linked


def considerations(tags: Mapping[str, str]) -> Considerations:
    found: dict[str, tuple[str, ...]] = {}
    for tag, field in CONSIDERATION_TAGS.items():
        value = tags.get(tag)
        if value is not None:
            found[field] = (value,)
    return Considerations(**found)
