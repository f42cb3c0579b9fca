"""The app served for real (`gitops-lab app`) and a headless Chromium driven by Playwright,
one of each per test module.

Chromium is Debian's package (`apt-get install chromium`), never Playwright's own download.
Without Chromium or Playwright these tests are skipped with the reason — except in CI
(GITOPS_LAB_CI set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

ROOT = Path(__file__).parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing(reason: str) -> NoReturn:
    """Skip with the reason on a workstation; fail in CI, where the browser must be there."""
    if os.environ.get("GITOPS_LAB_CI"):
        pytest.fail(f"{reason} (CI must install it: apt-get install -y chromium; pip: playwright)")
    pytest.skip(reason)


def chromium_path() -> Path | None:
    """GITOPS_LAB_CHROMIUM if set (and only it), else Debian's chromium."""
    given = os.environ.get("GITOPS_LAB_CHROMIUM")
    candidates = [given] if given else [shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def app_command(workspace: Path, port: int) -> list[str]:
    """`gitops-lab app`, as a learner types it (through this interpreter)."""
    return [sys.executable, "-m", "lab.cli", "app", str(workspace), "--port", str(port), "--fast"]


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(
        f"the app did not answer /_stcore/health in {timeout} s:\n{log.read_text()[-4000:]}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the app's own process group (it was started in a new session), then KILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (pip install playwright; no `playwright install`)")
    chromium = chromium_path()
    if chromium is None:
        missing("Chromium is not installed (apt-get install -y chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def app_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's folder: its workspace (lab/) and what it printed (app.log)."""
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def app_url(browser_context: Any, app_home: Path, app_port: int) -> Iterator[str]:
    """`gitops-lab app` on a free port, on a fresh workspace, with fast simulator timings."""
    home = app_home
    port = app_port
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for inherited in ("GITOPS_LAB_DIR", "GITOPS_LAB_FAST", "GITOPS_LAB_SCENARIOS"):
        env.pop(inherited, None)  # the command line says it all
    log = home / "app.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            app_command(home / "lab", port),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log, timeout=90)
        yield url
    finally:
        stop(process)


@pytest.fixture
def page(browser_context: BrowserContext, app_url: str) -> Iterator[Page]:
    page = browser_context.new_page()
    try:
        yield page
    finally:
        page.close()
