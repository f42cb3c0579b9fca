"""Merge requests end to end (lab/reviews.py): every review rule refuses and then allows, on a
real Git server with its hooks and the embedded cluster (the preview is a real dry run)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim.settings import Timings
from lab.engine.review import ReviewError
from lab.workspace import Lab, LabError

EXTRA = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: b}\n"


def make(tmp_path: Path, review: dict[str, Any], template: str = "web-app") -> Lab:
    lab = Lab.init(tmp_path / "lab", template, overrides={"review": review})
    lab.up(timings=Timings.instant())
    lab.wait_until_synced(timeout=90)
    return lab


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = make(tmp_path, {"required": True, "approvals": 1})
    try:
        yield made
    finally:
        made.down()


def colour_change(lab: Lab, value: str) -> dict[str, str]:
    cm = yaml.safe_load(lab.working_copy().read("apps/web/configmap.yaml"))
    cm["data"]["COLOR"] = value
    return {"apps/web/configmap.yaml": yaml.safe_dump(cm)}


def live_colour(lab: Lab) -> str:
    out = lab.kubectl("get", "cm", "web-config", "-n", "web", "-o", "json")
    return str(json.loads(out.stdout)["data"]["COLOR"])


def propose(lab: Lab, branch: str, files: dict[str, str | None], **commit: Any) -> int:
    pushed = lab.commit(files, f"change on {branch}", branch=branch, **commit)
    assert pushed.pushed, pushed.push
    return lab.reviews.open(branch, f"Change {branch}", persona=commit.get("persona", "alice")).id


def refused(lab: Lab, request_id: int, persona: str, words: str) -> None:
    with pytest.raises(ReviewError) as caught:
        lab.reviews.merge(request_id, persona=persona)
    assert words in str(caught.value)


def audit_types(lab: Lab) -> list[str]:
    return [e.type for e in lab.audit_events()]


def test_main_only_changes_through_a_merged_review(lab: Lab) -> None:
    direct = lab.commit(colour_change(lab, "green"), "straight to main", persona="bob")
    assert not direct.pushed
    assert "main only changes through a merged review" in direct.push.message  # type: ignore[union-attr]
    assert lab.working_copy().head() == lab.git_log(1)[0].sha  # the clone went back to main

    request_id = propose(lab, "green", colour_change(lab, "green"))
    assert "green" not in lab.reviews.unproposed()  # its request proposes it
    idle = lab.commit(colour_change(lab, "red"), "a branch nobody proposes", branch="red")
    assert idle.pushed and lab.reviews.unproposed() == ("red",)
    request = lab.reviews.get(request_id)
    assert request.checks_passed, request.checks
    assert [c.name for c in request.checks] == [
        "render",
        "schema",
        "policy",
        "signatures",
        "preview",
    ]
    assert request.files == ["apps/web/configmap.yaml"]
    assert [(p.kind, p.action) for p in request.preview if p.action != "unchanged"] == [
        ("ConfigMap", "change")
    ]
    assert live_colour(lab) == "blue"  # opening and checking changes nothing

    refused(lab, request_id, "bob", "1 approval(s) needed, 0 given")
    lab.reviews.approve(request_id, persona="bob")
    merged = lab.reviews.merge(request_id, persona="bob")
    assert merged.state == "merged" and merged.merged_by == "bob"
    lab.wait_until_synced("web", timeout=30)
    assert live_colour(lab) == "green"
    head = lab.git_log(1)[0]
    assert head.sha == merged.merge_sha and head.author_email == "bob@lab.example"
    parents = subprocess.run(
        ["git", "rev-list", "--parents", "-n", "1", head.sha],
        cwd=lab.remote_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(parents) == 3  # a merge commit: main and the branch
    assert lab.verify(head.sha).trusted  # signed by bob, whom the reconciler trusts

    kinds = audit_types(lab)
    for kind in ("PushRejected", "ReviewOpened", "ChecksPassed", "MergeRefused", "Approved"):
        assert kind in kinds
    merged_event = lab.audit_events(types=["Merged"])[-1]
    assert merged_event.actor == "bob" and merged_event.data["request"] == request_id
    assert merged_event.app == "web"
    refusal = lab.audit_events(types=["MergeRefused"])[-1]
    assert refusal.data["rule"] == "approvals" and refusal.actor == "bob"


def test_without_the_rule_main_takes_direct_pushes_and_reviews_still_work(
    tmp_path: Path,
) -> None:
    lab = make(tmp_path, {"required": False, "approvals": 0})
    try:
        assert lab.commit(colour_change(lab, "green"), "direct", persona="alice").pushed
        request_id = propose(lab, "extra", {"apps/web/extra.yaml": EXTRA})
        assert lab.reviews.merge(request_id, persona="alice").state == "merged"
        lab.wait_until_synced("web", timeout=30)
        assert lab.kubectl("get", "cm", "extra", "-n", "web").returncode == 0
    finally:
        lab.down()


def test_authors_cannot_approve_their_own_change_unless_allowed(tmp_path: Path) -> None:
    lab = make(tmp_path, {"required": True, "approvals": 1})
    try:
        request_id = propose(lab, "mine", {"apps/web/extra.yaml": EXTRA})
        with pytest.raises(ReviewError, match="alice opened !1 and cannot approve"):
            lab.reviews.approve(request_id, persona="alice")
        assert lab.reviews.get(request_id).approvals == []
        assert "Approved" not in audit_types(lab)
        lab.reviews.approve(request_id, persona="bob")
        with pytest.raises(ReviewError, match="already approved the latest push"):
            lab.reviews.approve(request_id, persona="bob")
    finally:
        lab.down()
    lab = Lab.open(tmp_path / "lab")
    config = yaml.safe_load((lab.root / "lab.yaml").read_text())
    config["review"]["authorsCannotApprove"] = False
    (lab.root / "lab.yaml").write_text(yaml.safe_dump(config))
    lab = Lab.open(tmp_path / "lab")
    lab.up(timings=Timings.instant())
    try:
        request_id = propose(lab, "mine-too", {"apps/web/other.yaml": EXTRA.replace("extra", "o")})
        assert lab.reviews.approve(request_id, persona="alice").approvals[0].by == "alice"
        assert lab.reviews.merge(request_id, persona="alice").state == "merged"
    finally:
        lab.down()


def test_a_path_owner_must_approve_and_only_the_owner_may_merge_prod(tmp_path: Path) -> None:
    lab = make(
        tmp_path,
        {
            "required": True,
            "approvals": 1,
            "approvers": [{"path": "envs/prod/**", "personas": ["bob"]}],
        },
        template="multi-env",
    )
    try:
        text = lab.working_copy().read("envs/prod/kustomization.yaml")
        request_id = propose(
            lab, "prod-note", {"envs/prod/kustomization.yaml": text + "# reviewed change\n"}
        )
        lab.reviews.approve(request_id, persona="mallory")
        refused(lab, request_id, "alice", "needs an approval from bob (envs/prod/**)")
        lab.reviews.approve(request_id, persona="bob")
        # The Git server's protected path still holds: only bob may change envs/prod on main.
        refused(lab, request_id, "alice", "envs/prod/kustomization.yaml is protected")
        assert lab.audit_events(types=["MergeRefused"])[-1].data["rule"] == "server"
        assert lab.reviews.merge(request_id, persona="bob").state == "merged"
        dev_only = lab.working_copy().read("envs/dev/kustomization.yaml")
        other = propose(lab, "dev-note", {"envs/dev/kustomization.yaml": dev_only + "# dev\n"})
        lab.reviews.approve(other, persona="mallory")  # no owner rule for envs/dev
        assert lab.reviews.merge(other, persona="alice").state == "merged"
    finally:
        lab.down()


def test_a_new_push_needs_a_new_approval(lab: Lab) -> None:
    request_id = propose(lab, "colour", colour_change(lab, "green"))
    first = lab.reviews.approve(request_id, persona="bob").head
    pushed = lab.commit(colour_change(lab, "red"), "red after all", branch="colour")
    assert pushed.pushed
    request = lab.reviews.get(request_id)
    assert request.head == pushed.sha != first
    assert request.approvals[0].sha == first  # kept, but it no longer counts
    refused(lab, request_id, "bob", "1 approval(s) needed, 0 given for the latest push")
    lab.reviews.approve(request_id, persona="bob")
    lab.reviews.merge(request_id, persona="bob")
    lab.wait_until_synced("web", timeout=30)
    assert live_colour(lab) == "red"


def test_a_plain_git_push_to_the_branch_is_checked_again_through_the_webhook(lab: Lab) -> None:
    request_id = propose(lab, "by-hand", {"apps/web/extra.yaml": EXTRA})
    repo = lab.repo_path

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout

    git("fetch", "--quiet", "origin")
    git("checkout", "--quiet", "-B", "by-hand", "origin/by-hand")
    (repo / "apps/web/extra.yaml").write_text(EXTRA.replace("{a: b}", "{a: c}"))
    git("commit", "--quiet", "-am", "tweak")  # signed as alice: the clone is set up that way
    git("push", "--quiet", "origin", "by-hand")
    head = git("rev-parse", "HEAD").strip()
    git("checkout", "--quiet", "main")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stored = lab.reviews.store.get(request_id)  # no re-check on read: the webhook did it
        if stored.head == head:
            break
        time.sleep(0.1)
    assert stored.head == head and stored.checks_passed
    events = lab.audit_events(types=["ChecksPassed"])
    assert events[-1].data["revision"] == head


def test_failing_checks_block_the_merge(tmp_path: Path) -> None:
    lab = make(
        tmp_path,
        {"required": True, "approvals": 0},
    )
    try:
        bad = EXTRA.replace("data: {a: b}", "data: {a: b}\nreplicas: 3")
        request_id = propose(lab, "bad-schema", {"apps/web/extra.yaml": bad})
        checks = {c.name: c for c in lab.reviews.get(request_id).checks}
        assert checks["schema"].status == "failed"
        assert "extra" in checks["schema"].message and "replicas" in checks["schema"].message
        assert checks["preview"].status == "failed"  # not run on a revision that fails schema
        refused(lab, request_id, "bob", "checks must pass first: schema")
        assert "ChecksFailed" in audit_types(lab)

        unsigned = propose(lab, "unsigned", {"apps/web/extra.yaml": EXTRA}, sign=False)
        checks = {c.name: c for c in lab.reviews.get(unsigned).checks}
        assert checks["signatures"].status == "failed" and "not signed" in str(
            checks["signatures"].details
        )
        refused(lab, unsigned, "bob", "signatures")

        deployment = yaml.safe_load(lab.working_copy().read("apps/web/deployment.yaml"))
        deployment["spec"]["selector"]["matchLabels"]["tier"] = "front"
        deployment["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
        immutable = propose(
            lab, "selector", {"apps/web/deployment.yaml": yaml.safe_dump(deployment)}
        )
        checks = {c.name: c for c in lab.reviews.get(immutable).checks}
        assert checks["schema"].status == "passed"
        assert checks["preview"].status == "failed" and "immutable" in checks["preview"].message
        refused(lab, immutable, "bob", "preview")
        out = lab.kubectl("get", "deploy", "web", "-n", "web", "-o", "json")
        assert "tier" not in json.loads(out.stdout)["spec"]["selector"]["matchLabels"]
    finally:
        lab.down()


def test_the_preview_shows_creates_changes_prunes_and_masks_secret_values(lab: Lab) -> None:
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: token}\n"
        "stringData: {password: hunter2-very-secret}\n"
    )
    request_id = propose(
        lab,
        "mixed",
        {
            "apps/web/secret.yaml": secret,
            "apps/web/service.yaml": None,
            **colour_change(lab, "green"),
        },
    )
    request = lab.reviews.get(request_id)
    actions = {(p.kind, p.name): p.action for p in request.preview}
    assert actions[("Secret", "token")] == "create"
    assert actions[("Service", "web")] == "prune"
    assert actions[("ConfigMap", "web-config")] == "change"
    assert actions[("Deployment", "web")] == "unchanged"
    assert "green" in next(p.diff for p in request.preview if p.kind == "ConfigMap")
    text = json.dumps(request.as_dict())
    assert "hunter2" not in text
    stored = (lab.state_path / "reviews.json").read_text()
    assert "hunter2" not in stored
    assert lab.kubectl("get", "secret", "token", "-n", "web").returncode != 0  # a dry run only


def test_a_branch_that_conflicts_with_main_must_be_updated_first(lab: Lab) -> None:
    first = propose(lab, "green", colour_change(lab, "green"))
    second = propose(lab, "red", colour_change(lab, "red"))
    for request_id in (first, second):
        lab.reviews.approve(request_id, persona="bob")
    lab.reviews.merge(first, persona="bob")
    refused(lab, second, "bob", "main has moved and apps/web/configmap.yaml conflict(s)")
    assert lab.audit_events(types=["MergeRefused"])[-1].data["rule"] == "stale"

    repo = lab.repo_path

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)

    git("fetch", "--quiet", "origin")
    git("checkout", "--quiet", "-B", "red", "origin/red")
    git("merge", "--quiet", "-X", "ours", "-m", "Merge main into red", "origin/main")
    assert git("push", "--quiet", "origin", "red").returncode == 0
    git("checkout", "--quiet", "main")
    request = lab.reviews.get(second)  # re-checked: the branch moved
    assert request.checks_passed
    refused(lab, second, "bob", "0 given for the latest push")  # the new push needs approval
    lab.reviews.approve(second, persona="bob")
    lab.reviews.merge(second, persona="bob")
    lab.wait_until_synced("web", timeout=30)
    assert live_colour(lab) == "red"


def test_bad_requests_are_refused_in_plain_words(lab: Lab) -> None:
    with pytest.raises(ReviewError, match="has no branch 'nope'"):
        lab.reviews.open("nope", "Nothing", persona="alice")
    with pytest.raises(ReviewError, match="takes a branch into main"):
        lab.reviews.open("main", "Main", persona="alice")
    with pytest.raises(ReviewError, match="not a valid branch name"):
        lab.reviews.open("a..b", "Bad", persona="alice")
    lab.commit({"apps/web/extra.yaml": EXTRA}, "x", branch="same")
    with pytest.raises(ReviewError, match="needs a title"):
        lab.reviews.open("same", "  ", persona="alice")
    request_id = lab.reviews.open("same", "Same", persona="alice").id
    with pytest.raises(ReviewError, match="already open for same"):
        lab.reviews.open("same", "Again", persona="alice")
    with pytest.raises(ReviewError, match="there is no merge request !99"):
        lab.reviews.approve(99, persona="bob")
    with pytest.raises(LabError, match="no persona 'zed'"):
        lab.reviews.approve(request_id, persona="zed")
    with pytest.raises(LabError, match="no persona 'zed'"):
        lab.reviews.merge(request_id, persona="zed")
    lab.reviews.close(request_id, persona="alice")
    with pytest.raises(ReviewError, match="is closed already"):
        lab.reviews.close(request_id, persona="alice")
    with pytest.raises(ReviewError, match="!1 is closed"):
        lab.reviews.merge(request_id, persona="bob")
    assert lab.audit_events(types=["Closed"])[-1].actor == "alice"
