"""`gitops-lab scenario list` and `scenario run` as a learner types them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import run_cli

ROOT = Path(__file__).parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("scenario", *args, timeout=300)


def test_list_shows_the_catalog_and_names_broken_files(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "01-first-sync.yaml").write_text(
        (ROOT / "scenarios" / "01-first-sync.yaml").read_text()
    )
    (folder / "99-broken.yaml").write_text("id: broken\nsteps: [unclosed")
    out = run("list", "--folder", str(folder))
    assert out.returncode == 0
    assert "first-sync" in out.stdout and "Your first sync" in out.stdout
    assert "99-broken.yaml" in out.stderr and "not valid YAML" in out.stderr
    full = run("list")
    assert full.returncode == 0 and len(full.stdout.splitlines()) >= 12


def test_run_prints_each_check_and_the_outcome() -> None:
    out = run("run", "first-sync", "--fast")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[1/2]" in out.stdout and "ok   app web is Synced" in out.stdout
    assert "PASSED: Your first sync" in out.stdout
    assert "who changed what:" in out.stdout


def test_run_unknown_scenario_is_a_clear_error() -> None:
    out = run("run", "no-such-scenario")
    assert out.returncode == 2 and "there is no scenario 'no-such-scenario'" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_takes_a_scenario_file_and_names_what_is_wrong_in_it(tmp_path: Path) -> None:
    broken = tmp_path / "mine.yaml"
    broken.write_text("id: mine\ntitle: Mine\nsteps: [unclosed")
    out = run("run", str(broken))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "mine.yaml" in out.stderr and "not valid YAML" in out.stderr
    assert "Traceback" not in out.stderr
    good = run("run", str(ROOT / "scenarios" / "04-deleted-resource.yaml"), "--fast")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "PASSED: Drift: a deleted ConfigMap comes back" in good.stdout
