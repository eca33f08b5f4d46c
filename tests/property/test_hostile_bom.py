"""Property test: whatever strings a registry holds, both BOMs render and stay valid.

Tag values, names, owners, dataset fields and URIs are drawn from any Unicode text (minus
lone surrogates, which no UTF-8 results file can hold), with URL-ish and markup pieces mixed
in. For each estate the CycloneDX document must pass the library's own validator, the SPDX
packages the official JSON Schema, and every value must come back unchanged as data.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.bom import cyclonedx, spdx
from scanner.bom.estate import read_estate
from scanner.bom.iri import is_iri
from scanner.inventory import Ref, Resource
from tests.bom_checks import cyclonedx_problem, spdx_schema_problems
from tests.bom_estate import REGISTRY, artefact, estate_document, model

PIECES = st.sampled_from(
    [
        "s3://",
        "http://",
        "file:///",
        "<b>",
        "</script>",
        "%",
        "%zz",
        "#",
        "?",
        "@",
        " ",
        "\n",
        "\x00",
        "\x1b[2J",
        "\u202e",
        "\ufffe",
        "\U0001f600",
        "[::1]",
        "NOASSERTION",
        "{",
        "\\",
    ]
)
TEXT = st.lists(
    st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=12), PIECES),
    max_size=5,
).map("".join)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(name=TEXT, owner=TEXT, tag=TEXT, uri=TEXT, dataset=TEXT, commit=TEXT)
def test_any_strings_render_into_valid_boms(name, owner, tag, uri, dataset, commit):
    store = artefact(
        f"s3://b/{uri}",
        [{"path": tag or "f", "size": 1, "sha256": "ab" * 32, "etag": tag, "format": tag}],
        signature={"present": True, "kind": tag, "verified": None, "identity": owner, "error": tag},
    )
    version = Resource(
        id=f"{REGISTRY}/models/{name}/versions/1",
        type="model_version",
        name=f"{name}/1",
        source="mlflow",
        attributes={
            "model": Ref(f"{REGISTRY}/models/{name}"),
            "version": tag or "1",
            "owner": owner,
            "classification": tag,
            "source_uri": uri,
            "artefact": Ref(store.id),
            "provenance": {
                "run": tag,
                "datasets": [{"name": dataset, "digest": tag, "source": uri, "context": tag}],
                "code": {"repo": uri, "commit": commit},
                "created_at": tag,
            },
        },
    )
    tags = {tag: tag, "task": tag, "limitations": dataset, "license": tag, "base_model": name}
    document = estate_document([model(name, tags=tags), store, version], scan_id=name or "s")
    estate = read_estate(document)

    content = cyclonedx.render(estate, with_findings=True)
    assert cyclonedx_problem(content) is None
    bom = json.loads(content)
    component = next(c for c in bom["components"] if c["type"] == "machine-learning-model")
    assert component["name"] == name
    for reference in component.get("externalReferences", []):
        assert is_iri(reference["url"], reference=True)

    graph = json.loads(spdx.render(estate))
    packages = {
        "@context": graph["@context"],
        "@graph": [
            e for e in graph["@graph"] if e["type"] in ("ai_AIPackage", "dataset_DatasetPackage")
        ],
    }
    assert spdx_schema_problems(packages) == []
    ai = next(e for e in packages["@graph"] if e["type"] == "ai_AIPackage")
    location = ai["software_downloadLocation"]
    assert location == "NOASSERTION" or is_iri(location)
