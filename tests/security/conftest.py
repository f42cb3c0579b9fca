"""Raw HTTPS and plain-socket helpers for the security tests: they send what no well-behaved
client would (no token, a wrong one, plain HTTP), so they cannot go through kubectl."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any


def https(
    port: int,
    cafile: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    authorization: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request over verified TLS; `token` becomes a Bearer header, `authorization` is sent
    as it is."""
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if authorization is not None:
        sent["Authorization"] = authorization
    data = json.dumps(body).encode() if body is not None else None
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return Reply(response.status, json.loads(raw))
    except ValueError:
        return Reply(response.status, raw.decode(errors="replace"))


def plain_exchange(host: str, port: int, payload: bytes, timeout: float = 10) -> bytes:
    """Send bytes over plain TCP and return whatever comes back before the peer closes."""
    received = b""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(payload)
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return received


def reachable(host: str, port: int) -> bool:
    """Does anything accept a TCP connection on host:port?"""
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False
