"""Table tests for the review rules (lab/engine/review.py) over tests/fixtures/review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.review import (
    Approval,
    CheckOutcome,
    MergeRequest,
    ReviewError,
    ReviewRules,
    ReviewStore,
    approval_refusal,
    approvals_needed,
    refusal,
)

TABLE = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "review" / "rules.yaml").read_text()
)


def request(data: dict[str, Any]) -> MergeRequest:
    approvals = [Approval(*a.split("@"), at="") for a in data.get("approvals", [])]
    checks = [CheckOutcome(name, status, "") for name, status in (data.get("checks") or {}).items()]
    return MergeRequest(
        1,
        "title",
        "feature",
        data["author"],
        state=data.get("state", "open"),
        head=data["head"],
        files=list(data.get("files", [])),
        checks=checks,
        approvals=approvals,
    )


@pytest.mark.parametrize("case", TABLE["parse"], ids=lambda c: c["name"])
def test_parse(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValueError) as caught:
            ReviewRules.parse(case["data"])
        assert case["error"] in str(caught.value)
    else:
        assert ReviewRules.parse(case["data"]).as_dict() == case["expect"]


@pytest.mark.parametrize("case", TABLE["approvals"], ids=lambda c: c["name"])
def test_approvals_needed(case: dict[str, Any]) -> None:
    missing = approvals_needed(request(case["request"]), ReviewRules.parse(case["rules"]))
    assert len(missing) == len(case["missing"])
    for got, want in zip(missing, case["missing"], strict=True):
        assert want in got


@pytest.mark.parametrize("case", TABLE["refusal"], ids=lambda c: c["name"])
def test_refusal(case: dict[str, Any]) -> None:
    rule, reason = refusal(
        request(case["request"]),
        ReviewRules.parse(case["rules"]),
        conflicting=case.get("conflicting", []),
    )
    assert rule == case["expect"][0]
    assert case["expect"][1] in reason
    assert bool(rule) == bool(reason)


@pytest.mark.parametrize("case", TABLE["approve"], ids=lambda c: c["name"])
def test_approval_refusal(case: dict[str, Any]) -> None:
    reason = approval_refusal(
        request(case["request"]), ReviewRules.parse(case["rules"]), case["persona"]
    )
    assert (reason == "") == (case["refused"] == "")
    assert case["refused"] in reason


def test_the_store_keeps_requests_across_processes(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "reviews.json")
    assert store.load() == [] and store.next_id() == 1
    first = request({"author": "alice", "head": "h1", "approvals": ["bob@h1"]})
    store.put(first)
    second = MergeRequest(2, "other", "b2", "bob")
    store.put(second)
    again = ReviewStore(tmp_path / "reviews.json")
    assert [r.id for r in again.load()] == [1, 2]
    assert again.get(1).approvals == first.approvals and again.next_id() == 3


def test_a_damaged_store_is_reported_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "reviews.json"
    path.write_text("{not json")
    with pytest.raises(ReviewError, match=r"reviews\.json cannot be read"):
        ReviewStore(path).load()
    assert path.read_text() == "{not json"
