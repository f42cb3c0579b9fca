"""A custom resource judged by its CRD's schema before the CRD is served: exact answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.crdschema import refusal

DATA = yaml.safe_load((Path(__file__).parents[1] / "fixtures/crdschema/cases.yaml").read_text())


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_refusal(case: dict[str, Any]) -> None:
    obj: dict[str, Any] = {
        "apiVersion": "s3.services.k8s.aws/v1alpha1",
        "kind": "Bucket",
        "metadata": {"name": "bad", "namespace": "infra"},
    }
    if case["spec"] is not None:
        obj["spec"] = case["spec"]
    assert refusal(obj, DATA["schema"]) == case["says"]


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_the_embedded_api_server_answers_the_same(case: dict[str, Any]) -> None:
    """The engine judges before the CRD is served; the server judges after: same words."""
    from lab.cluster.sim import crschema

    obj = {"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket"}
    obj["metadata"] = {"name": "bad", "namespace": "infra"}
    if case["spec"] is not None:
        obj["spec"] = case["spec"]
    decoded = crschema.decode(obj, DATA["schema"], defaults=False)
    causes = decoded.causes or crschema.validate(decoded.obj, DATA["schema"])
    if causes:
        summary = ", ".join(str(c) for c in causes)
        said = 'Bucket.s3.services.k8s.aws "bad" is invalid: ' + (
            f"[{summary}]" if len(causes) > 1 else summary
        )
    elif decoded.unknown_fields:
        said = 'Bucket in version "v1alpha1" cannot be handled as a Bucket: strict decoding error: '
        said += ", ".join(f'unknown field "{f}"' for f in decoded.unknown_fields)
    else:
        said = ""
    assert said == case["says"]
