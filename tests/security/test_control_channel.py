"""The running lab's control channel (lab/control.py) lets only the token's holder in.

`gitops-lab status/sync/pause/rollback...` and the Git server's webhook reach the owner process
over HTTP on 127.0.0.1, with a token kept in `.lab/owner.json` (mode 0600). A lab that is up
in this process is the owner; the tests talk to its channel as a stranger would.
"""

from __future__ import annotations

import http.client
import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster.sim.settings import Timings
from lab.workspace import Lab
from tests.security.conftest import plain_exchange, reachable


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    made = Lab.init(tmp_path_factory.mktemp("control") / "lab", "web-app")
    made.up(timings=Timings.instant())
    made.wait_until_synced(timeout=90)
    try:
        yield made
    finally:
        made.down()


def owner(lab: Lab) -> dict[str, Any]:
    return dict(json.loads(lab.owner_file.read_text()))


def ask(
    lab: Lab,
    method: str,
    path: str,
    *,
    authorization: str | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", owner(lab)["port"], timeout=30)
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    try:
        conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=headers
        )
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode(errors="replace")


def good(lab: Lab) -> str:
    return f"Bearer {owner(lab)['token']}"


def test_the_owner_file_is_private_and_names_a_loopback_port(lab: Lab) -> None:
    assert stat.S_IMODE(lab.owner_file.stat().st_mode) == 0o600
    port = owner(lab)["port"]
    assert reachable("127.0.0.1", port)
    # Bound to 127.0.0.1 only: the rest of the loopback network (and so any other interface)
    # finds nothing there.
    assert not reachable("127.0.0.2", port)


def wrong_tokens(lab: Lab) -> list[str | None]:
    token = owner(lab)["token"]
    return [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {token[:-1]}",
        f"Bearer {token}x",
        f"bearer{token}",
        f"Basic {token}",
        token,
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/status", None),
        ("GET", "/diff", None),
        ("GET", "/history?app=web", None),
        ("POST", "/pause", {"app": "web", "persona": "bob"}),
        ("POST", "/sync", {"app": "web"}),
        ("POST", "/policy", {"app": "web", "persona": "bob", "changes": {"selfHeal": False}}),
        ("POST", "/webhook", None),
        ("POST", "/review/approve", {"id": 1, "persona": "bob"}),
        ("GET", "/no-such-command", None),
    ],
)
def test_a_missing_or_wrong_token_is_refused(lab: Lab, method: str, path: str, body: Any) -> None:
    before = len(lab.audit_events())
    for authorization in wrong_tokens(lab):
        status, answer = ask(lab, method, path, authorization=authorization, body=body)
        assert status == 401, (authorization, answer)
        assert answer == {"error": "not authorized"}
    # None of them did anything: the app still runs on its own, nothing new was recorded.
    app = lab.snapshot().app("web")
    assert not app.paused
    assert len(lab.audit_events()) == before


def test_the_token_in_the_query_string_is_not_enough(lab: Lab) -> None:
    token = owner(lab)["token"]
    status, _ = ask(lab, "GET", f"/status?token={token}")
    assert status == 401


def test_the_right_token_is_let_in(lab: Lab) -> None:
    status, answer = ask(lab, "GET", "/status", authorization=good(lab))
    assert status == 200 and answer["apps"][0]["name"] == "web"


def test_nonsense_on_the_wire_leaves_the_channel_working(lab: Lab) -> None:
    port = owner(lab)["port"]
    for payload in (
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
        b"GARBAGE\r\n\r\n",
        b"GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
        b"POST /sync HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    ):
        answer = plain_exchange("127.0.0.1", port, payload, timeout=5)
        assert b"token" not in answer.lower()
        assert ask(lab, "GET", "/status", authorization=good(lab))[0] == 200


def test_a_bad_content_length_gets_an_answer_not_a_traceback(lab: Lab) -> None:
    port = owner(lab)["port"]
    answer = plain_exchange(
        "127.0.0.1", port, b"POST /sync HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]


def test_the_cli_with_a_stale_token_says_so_plainly(lab: Lab, tmp_path: Path) -> None:
    # A copy of the workspace's owner file with a wrong token: what a stale file looks like.
    data = owner(lab)
    copy = tmp_path / "lab"
    (copy / ".lab").mkdir(parents=True)
    (copy / "lab.yaml").write_text((lab.root / "lab.yaml").read_text())
    (copy / ".lab" / "owner.json").write_text(json.dumps({**data, "token": "stale"}))
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli", "status", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "not authorized" in result.stderr + result.stdout
