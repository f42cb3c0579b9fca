"""The dotted paths scenario steps use to edit manifests and read live objects."""

from __future__ import annotations

import pytest

from lab.scenario import paths

OBJ = {
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [{"name": "web", "image": "a:1"}, {"name": "side", "image": "b:1"}]
            }
        },
    }
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.replicas", 2),
        ("spec.template.spec.containers[0].image", "a:1"),
        ("spec.template.spec.containers[name=side].image", "b:1"),
        ("spec.template.spec.containers[-1].name", "side"),
        ("spec.nope", paths.MISSING),
        ("spec.template.spec.containers[5]", paths.MISSING),
        ("spec.replicas.deeper", paths.MISSING),
    ],
)
def test_get(path: str, value: object) -> None:
    assert (
        paths.get(OBJ, path) == value
        if value is not paths.MISSING
        else paths.get(OBJ, path) is paths.MISSING
    )


def test_set_makes_maps_and_removes_with_none() -> None:
    obj: dict = {"metadata": {"name": "x"}}
    paths.set_value(obj, "metadata.labels.team", "shop")
    paths.set_value(obj, "spec.replicas", 3)
    assert obj == {"metadata": {"name": "x", "labels": {"team": "shop"}}, "spec": {"replicas": 3}}
    paths.set_value(obj, "metadata.labels.team", None)
    assert obj["metadata"]["labels"] == {}
    copy = {"spec": {"containers": [{"name": "web", "image": "a"}]}}
    paths.set_value(copy, "spec.containers[name=web].image", "b")
    assert copy["spec"]["containers"][0]["image"] == "b"


@pytest.mark.parametrize("path", ["spec.containers[name=ghost].image", "spec.containers[3]"])
def test_set_refuses_paths_that_do_not_fit(path: str) -> None:
    with pytest.raises(paths.PathError):
        paths.set_value({"spec": {"containers": [{"name": "web"}]}}, path, 1)
