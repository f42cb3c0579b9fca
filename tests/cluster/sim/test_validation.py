"""What the API server refuses: causes for objects built from valid bases, on create and update.

Each fixture case merge-patches (RFC 7386) one of the valid objects in `bases.yaml`, runs it
through defaulting as the registry does, and compares every cause (reason, field, message).
A case with `update` stores the patched object as the old one and validates the update.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import validation
from lab.cluster.sim.defaults import apply_defaults
from lab.cluster.sim.errors import Cause

FIXTURES = Path(__file__).parents[2] / "fixtures" / "validation"
BASES: dict[str, Any] = yaml.safe_load((FIXTURES / "bases.yaml").read_text())


def cases() -> list[Any]:
    params = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        if path.name == "bases.yaml":
            continue
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def checked(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Validate, and prove validation left both objects as it found them."""
    before = copy.deepcopy((obj, old))
    causes = validation.validate(obj, old)
    assert (obj, old) == before
    return [cause.as_dict() for cause in causes]


def run(case: dict[str, Any], base: str) -> list[dict[str, str]]:
    obj = apply_defaults(merge_patch(BASES[base], case.get("patch") or {}))
    if "update" not in case:
        return checked(obj)
    old = copy.deepcopy(obj)
    old["metadata"]["resourceVersion"] = "1"
    new = apply_defaults(merge_patch(old, case["update"]))
    return checked(new, old)


@pytest.mark.parametrize("case", cases())
def test_causes(case: dict[str, Any]) -> None:
    bases = case["base"] if isinstance(case["base"], list) else [case["base"]]
    for base in bases:
        assert run(case, base) == case["causes"], base


def test_fixture_cases_cover_create_and_update() -> None:
    all_cases = [param.values[0] for param in cases()]
    updates = [case for case in all_cases if "update" in case]
    assert len(all_cases) >= 60
    assert len(updates) >= 20
    assert any(case["causes"] for case in updates)


# --- limits too large for a fixture file ---------------------------------------------------


def test_annotations_may_total_256_kib() -> None:
    obj = copy.deepcopy(BASES["configmap"])
    obj["metadata"]["annotations"] = {"note": "x" * (256 * 1024 - 4)}
    assert validation.validate(obj) == []
    obj["metadata"]["annotations"]["note"] += "x"
    assert validation.validate(obj) == [
        Cause(
            "FieldValueTooLong",
            "Too long: may not be more than 262144 bytes",
            "metadata.annotations",
        )
    ]


def test_config_map_data_may_total_1_mib() -> None:
    obj = copy.deepcopy(BASES["configmap"])
    obj["data"] = {"a": "x" * (512 * 1024), "b": "y" * (512 * 1024)}
    assert validation.validate(obj) == []
    obj["binaryData"] = {"c": "eA=="}
    assert [cause.as_dict() for cause in validation.validate(obj)] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 1048576 bytes",
            "field": "",
        }
    ]


def test_secret_data_counts_decoded_bytes() -> None:
    obj = copy.deepcopy(BASES["secret"])
    obj["data"] = {"blob": base64.b64encode(bytes(1024 * 1024 - 6)).decode()}
    assert validation.validate(apply_defaults(obj)) == []
    obj["data"]["password"] = base64.b64encode(b"secret!").decode()
    causes = validation.validate(apply_defaults(obj))
    assert [cause.as_dict() for cause in causes] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 1048576 bytes",
            "field": "data",
        }
    ]


# --- the name and key checks other modules reuse -------------------------------------------

NAME_CHECKS = [
    (validation.is_dns1123_subdomain, "web.example", []),
    (validation.is_dns1123_label, "web.example", ["must not contain dots"]),
    (validation.is_dns1123_label, "a" * 64, ["must be no more than 63 characters"]),
    (
        validation.is_dns1035_label,
        "1web",
        [
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character "
            "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
    (validation.is_qualified_name, "example.com/Team_A", []),
    (validation.is_qualified_name, "/team", ["prefix part must be non-empty"]),
    (validation.is_valid_label_value, "", []),
    (validation.is_config_map_key, "..data", ["must not start with '..'"]),
]


@pytest.mark.parametrize(("check", "value", "expected"), NAME_CHECKS)
def test_name_checks(check: Any, value: str, expected: list[str]) -> None:
    assert check(value) == expected


def test_generate_name_may_end_in_a_dash() -> None:
    assert validation.name_is_dns_subdomain("web-", True) == []
    assert validation.name_is_dns_label("web-", True) == []
    assert validation.name_is_dns_subdomain("web-", False) != []


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("*/5 * * * *", ""),
        ("@daily", ""),
        ("0 0 31 2 *", ""),
        ("0 24 * * *", "end of range (24) above maximum (23): 24"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("", "empty spec string"),
    ],
)
def test_cron_schedule_errors(schedule: str, expected: str) -> None:
    assert validation.cron_schedule_error(schedule) == expected
