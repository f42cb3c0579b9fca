"""The `gitops-lab` command: one face of the lab, for terminals and scripts.

Each subcommand is a thin shell over the library: it parses arguments, calls one function,
prints plain words. Errors a user can cause are caught here and shown as one line with what
to do next, with exit code 2; no traceback reaches a learner.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from lab import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UserError(Exception):
    """Something the user can fix; the message says what."""


def _wait_for_signal(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cmd_cluster_serve(args: argparse.Namespace) -> int:
    from lab.cluster.sim.cluster import ClusterError, EmbeddedCluster

    state = Path(args.dir)
    kubeconfig = Path(args.kubeconfig) if args.kubeconfig else state / "kubeconfig"
    cluster = EmbeddedCluster(state, port=args.port, kubeconfig_path=kubeconfig)
    try:
        cluster.start()
    except ClusterError as exc:
        raise UserError(str(exc)) from exc
    stop = threading.Event()
    try:
        print(f"Embedded Kubernetes API serving on {cluster.url}", flush=True)
        print(f"kubeconfig: {kubeconfig.resolve()}", flush=True)
        print(f"export KUBECONFIG={kubeconfig.resolve()}", flush=True)
        print(
            "Contexts (one per persona): " + ", ".join(p for p, _ in cluster.personas), flush=True
        )
        print("Press Ctrl-C to stop.", flush=True)
        _wait_for_signal(stop)
    finally:
        cluster.stop()
        print("Stopped; state kept in " + str(state), flush=True)
    return EXIT_OK


def _lab_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir)


def _control(args: argparse.Namespace) -> Any:
    from lab.control import ControlClient, OwnershipError

    try:
        return ControlClient.for_workspace(_lab_dir(args) / ".lab" / "owner.json")
    except OwnershipError as exc:
        raise UserError(str(exc)) from exc


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None, **query: str) -> Any:
    from lab.control import ControlError, OwnershipError

    try:
        return _control(args).call(method, path, body, query=query or None)
    except (ControlError, OwnershipError) as exc:
        raise UserError(str(exc)) from exc


def cmd_init(args: argparse.Namespace) -> int:
    from lab.workspace import Lab, LabError

    try:
        lab = Lab.init(_lab_dir(args), args.template)
    except LabError as exc:
        raise UserError(str(exc)) from exc
    print(f"Made a lab in {lab.root} from the {args.template!r} template:")
    print(f"  lab.yaml      apps: {', '.join(a.name for a in lab.config.apps)}")
    print("  remote.git/   the Git server (first commit by alice, signed)")
    print("  repo/         your clone: edit, commit, push")
    print(f"Start it with: gitops-lab up {args.dir}")
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    from lab.views import event_line
    from lab.workspace import Lab, LabError

    try:
        lab = Lab.open(_lab_dir(args))
        lab.up(
            cluster=args.cluster,
            port=args.port,
            on_event=lambda e: print(event_line(e), flush=True),
        )
    except LabError as exc:
        raise UserError(str(exc)) from exc
    stop = threading.Event()
    try:
        print(
            f"kubeconfig: {lab.kubeconfig_path}  (export KUBECONFIG={lab.kubeconfig_path})",
            flush=True,
        )
        print("The lab is running. Press Ctrl-C to stop.", flush=True)
        _wait_for_signal(stop)
    finally:
        lab.down()
    return EXIT_OK


APP_DEFAULT_DIR = ".gitops-lab/lab"


def _app_command(port: int) -> list[str]:
    """The `streamlit run` line of the app: local only, headless, no usage statistics, and no
    developer toolbar (no "Deploy" button in front of an audience)."""
    script = Path(__file__).parent / "ui" / "app.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def _port_taken(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the app's server does
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _app_healthy(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        health = f"{url}/_stcore/health"  # always http://127.0.0.1
        with urllib.request.urlopen(health, timeout=2) as answer:  # noqa: S310
            return bool(answer.read().decode().strip() == "ok")
    except (urllib.error.URLError, OSError):
        return False


def cmd_app(args: argparse.Namespace) -> int:
    import contextlib
    import os
    import subprocess

    port = args.port
    if not 0 < port < 65536:
        raise UserError(f"--port {port} is not a port: give a number from 1 to 65535")
    if _port_taken(port):
        raise UserError(
            f"port {port} on 127.0.0.1 is taken (another app, or this one already open?): "
            f"choose another with --port, e.g. gitops-lab app {args.dir} --port {port + 1}"
        )
    workspace = _lab_dir(args).resolve()
    env = {**os.environ, "GITOPS_LAB_DIR": str(workspace)}
    if args.fast:
        env["GITOPS_LAB_FAST"] = "1"
    url = f"http://127.0.0.1:{port}"
    print(f"Starting the app on the lab in {workspace} ...", flush=True)
    process = subprocess.Popen(_app_command(port), env=env)
    stop = threading.Event()
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        announced = False
        while not stop.wait(0.25):
            if process.poll() is not None:
                raise UserError(
                    f"the app stopped (exit code {process.returncode}); its messages are above"
                )
            if not announced and _app_healthy(url):
                print(f"GitOps Lab is open at {url}  (Ctrl-C stops it)", flush=True)
                announced = True
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if received[:1] == [signal.SIGINT]:  # Ctrl-C reached the app too: let it stop itself
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    print("The app stopped.", flush=True)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from lab.views import status_lines

    status = _call(args, "GET", "/status")
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print("\n".join(status_lines(status)))
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    status = _call(args, "GET", "/status")
    apps = [args.app] if args.app else [a["name"] for a in status["apps"]]
    failed = False
    for app in apps:
        entry = _call(args, "POST", "/sync", {"app": app, "persona": args.persona})
        print(f"{app}: sync #{entry['id']} {entry['phase']}: {entry['message']}")
        for res in entry["resources"]:
            where = f"{res['namespace']}/" if res["namespace"] else ""
            note = f" ({res['message']})" if res["message"] else ""
            print(f"    {res['kind']}/{where}{res['name']}: {res['action']}{note}")
        failed = failed or entry["phase"] != "Succeeded"
    return EXIT_FAILED if failed else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    query = {"app": args.app} if args.app else {}
    result = _call(args, "GET", "/diff", **query)
    differences = False
    for app in result["apps"]:
        for condition in app["conditions"]:
            print(f"{app['name']}: {condition}")
            differences = True
        for res in app["resources"]:
            differences = True
            where = f"{res['namespace']}/" if res["namespace"] else ""
            by = f", changed by {res['changedBy']}" if res.get("changedBy") else ""
            print(f"=== {app['name']}: {res['kind']}/{where}{res['name']} ({res['status']}{by})")
            for change in res["drift"]:
                who = f" by {', '.join(change['managers'])}" if change["managers"] else ""
                print(f"  {change['change']:<8} {change['path']}{who}")
            if res["unified"]:
                print(res["unified"])
    if not differences:
        print("No differences: the cluster matches Git.")
    return EXIT_FAILED if differences else EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from lab.views import history_rows, table

    entries = _call(args, "GET", "/history", app=args.app)
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        print(table(history_rows(entries)))
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    if args.to is not None:
        entry = _call(
            args, "POST", "/rollback", {"app": args.app, "to": args.to, "persona": args.persona}
        )
        print(
            f"{args.app}: rolled back to history #{args.to} ({entry['revision'][:7]}): "
            f"{entry['phase']} {entry['message']}"
        )
        print("Automated sync is paused; the app shows Git HEAD differs until `gitops-lab resume`.")
        return EXIT_OK if entry["phase"] == "Succeeded" else EXIT_FAILED
    result = _call(
        args,
        "POST",
        "/rollback",
        {"app": args.app, "revision": args.revert, "persona": args.persona},
    )
    if not result["pushed"]:
        print(f"The revert commit {result['revert'][:7]} was not accepted: {result['message']}")
        return EXIT_FAILED
    print(
        f"{args.app}: reverted in Git as {result['revert'][:7]} by {args.persona}; "
        "the reconciler applies it."
    )
    return EXIT_OK


def cmd_pause(args: argparse.Namespace) -> int:
    _call(args, "POST", "/pause", {"app": args.app, "persona": args.persona})
    print(f"{args.app}: automated sync paused by {args.persona}")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    _call(args, "POST", "/resume", {"app": args.app, "persona": args.persona})
    print(f"{args.app}: automated sync resumed by {args.persona}")
    return EXIT_OK


# `gitops-lab policy` flags -> lab.yaml's setting names (what the control route takes).
POLICY_FLAGS = {
    "automated": "automated",
    "prune": "prune",
    "self_heal": "selfHeal",
    "allow_empty": "allowEmpty",
}


def _policy_words(policy: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {'on' if policy.get(name) else 'off'}" for name in POLICY_FLAGS.values()
    )


def cmd_policy(args: argparse.Namespace) -> int:
    changes = {
        name: getattr(args, flag) == "on"
        for flag, name in POLICY_FLAGS.items()
        if getattr(args, flag) is not None
    }
    if not changes:
        status = _call(args, "GET", "/status")
        app = next((a for a in status["apps"] if a["name"] == args.app), None)
        if app is None:
            known = ", ".join(a["name"] for a in status["apps"]) or "none"
            raise UserError(f"there is no app {args.app!r} in this lab (apps: {known})")
        print(f"{args.app}: {_policy_words(app['policy'])}")
        return EXIT_OK
    policy = _call(
        args, "POST", "/policy", {"app": args.app, "persona": args.persona, "changes": changes}
    )
    print(f"{args.app}: sync policy set by {args.persona}: {_policy_words(policy)}")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from lab.engine.audit import dataframe, to_json
    from lab.workspace import Lab, LabError

    try:
        lab = Lab.open(_lab_dir(args))
        if args.verify:
            check = lab.verify_audit()
            if check.ok:
                print(f"The audit trail is intact: {check.checked} entries, chain verified.")
                if check.head:
                    print(f"Head of the chain: {check.head} (keep a copy to anchor it)")
                return EXIT_OK
            print(f"The audit trail was tampered with: {check.reason}", file=sys.stderr)
            return EXIT_FAILED
        filters: dict[str, Any] = {}
        if args.since:
            filters["since"] = args.since
        if args.type:
            filters["types"] = [t for t in args.type.split(",") if t]
        if args.app:
            filters["app"] = args.app
        events = lab.audit_events(**filters)
    except LabError as exc:
        raise UserError(str(exc)) from exc
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if args.format == "json":
        print(to_json(events))
        return EXIT_OK
    frame = dataframe(events)
    if args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
        return EXIT_OK
    from lab.views import table

    rows = [["SEQ", "TIME", "TYPE", "APP", "ACTOR", "MESSAGE"]]
    for event in events:
        rows.append(
            [
                str(event.seq),
                event.time[:19].replace("T", " "),
                event.type,
                event.app,
                event.actor,
                event.message,
            ]
        )
    print(table(rows))
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from lab.views import review_lines, review_rows, table

    action = args.review_command
    if action == "list":
        requests = _call(args, "GET", "/reviews", **({"state": args.state} if args.state else {}))
        if args.json:
            print(json.dumps(requests, indent=2))
        elif len(requests) == 0:
            print("No merge requests" + (f" {args.state}" if args.state else "") + ".")
        else:
            print(table(review_rows(requests)))
        return EXIT_OK
    if action == "open":
        answer = _call(
            args,
            "POST",
            "/review/open",
            {"branch": args.branch, "title": args.title, "persona": args.persona},
        )
        request_id = answer["id"]
    elif action in ("approve", "merge", "close"):
        _call(args, "POST", f"/review/{action}", {"id": args.id, "persona": args.persona})
        request_id = args.id
    else:
        request_id = args.id
    answer = _call(args, "GET", "/review", id=str(request_id))
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print("\n".join(review_lines(answer)))
    return EXIT_OK


def cmd_scenario_list(args: argparse.Namespace) -> int:
    from lab.scenario.model import load_catalog

    scenarios, problems = load_catalog(Path(args.folder) if args.folder else None)
    for scenario in scenarios:
        print(f"{scenario.id:<28} {scenario.level:<13} {scenario.minutes:>3} min  {scenario.title}")
    for problem in problems:
        print(f"cannot use {problem}", file=sys.stderr)
    return EXIT_OK if scenarios else EXIT_FAILED


def cmd_scenario_run(args: argparse.Namespace) -> int:
    from lab.scenario.model import ScenarioError, load, load_catalog
    from lab.scenario.runner import RunReport, ScenarioRun, report_lines

    scenarios, problems = load_catalog(Path(args.folder) if args.folder else None)
    found = next((s for s in scenarios if s.id == args.id), None)
    if found is None and args.id.endswith((".yaml", ".yml")) and Path(args.id).is_file():
        try:  # a scenario file given by its path: the catalog's or one being written
            found = load(Path(args.id))
        except ScenarioError as exc:
            raise UserError(f"scenario {args.id} cannot be used: {exc}") from None
    if found is None:
        broken = [p for p in problems if args.id in p.path]
        if broken:
            raise UserError(f"scenario {args.id} cannot be used: {broken[0]}")
        known = ", ".join(s.id for s in scenarios)
        raise UserError(f"there is no scenario {args.id!r} (scenarios: {known})")

    def progress(kind: str, value: Any) -> None:
        if kind == "step":
            print(f"\n[{value.index + 1}/{len(found.steps)}] {value.step.title}", flush=True)
        elif kind == "action":
            print(f"    do   {value}", flush=True)
        elif kind == "check":
            mark = "ok  " if value.passed else "FAIL"
            print(f"    {mark} {value.description} ({value.seconds:.1f} s)", flush=True)
            if not value.passed:
                print(f"         saw: {value.saw}", flush=True)

    root = Path(args.dir) if args.dir else None
    print(f"{found.title}: {found.summary}", flush=True)
    run = ScenarioRun(found, root=root, cluster=args.cluster, fast=args.fast)
    report: RunReport
    try:
        report = run.autoplay(progress)
    finally:
        if args.keep and root is not None and run.lab is not None:
            run.lab.down()  # the lab folder stays for a look afterwards
        else:
            run.stop()
    for step in report.steps:
        if step.error:
            print(f"step {step.index + 1} could not be done: {step.error}", file=sys.stderr)
    print()
    print("\n".join(report_lines(report)))
    return EXIT_OK if report.passed else EXIT_FAILED


def cmd_kubectl(args: argparse.Namespace) -> int:
    from lab.workspace import Lab, LabError

    try:
        lab = Lab.open(_lab_dir(args))
        kubectl_args = [*args.kubectl_args, *args.passthrough]
        result = lab.kubectl(*kubectl_args, persona=args.as_persona, timeout=600)
    except LabError as exc:
        raise UserError(str(exc)) from exc
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def cmd_cluster_kind(args: argparse.Namespace) -> int:
    from lab.cluster.kind import KIND_IMAGE, cluster_command
    from lab.config import DEFAULT_PERSONAS

    return cluster_command(
        args.action,
        state_dir=Path(args.dir),
        personas=[(p.name, p.cluster_role) for p in DEFAULT_PERSONAS],
        name=args.name,
        image=args.image or KIND_IMAGE,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from lab.graduate import export_command

    return export_command(
        _lab_dir(args),
        args.to,
        out=Path(args.out) if args.out else None,
        repo_url=args.repo_url,
        gpg_keys=args.gpg_key,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gitops-lab",
        description="A hands-on GitOps lab: Git -> reconciler -> cluster, with drift, "
        "rollback and an audit trail.",
    )
    parser.add_argument("--version", action="version", version=f"gitops-lab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    cluster = commands.add_parser("cluster", help="the embedded Kubernetes cluster")
    cluster_commands = cluster.add_subparsers(dest="cluster_command", metavar="ACTION")
    serve = cluster_commands.add_parser(
        "serve", help="run the embedded Kubernetes API server in the foreground"
    )
    serve.add_argument(
        "--dir", default=".gitops-lab/cluster", help="state folder (kept across runs)"
    )
    serve.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: reuse or pick)"
    )
    serve.add_argument(
        "--kubeconfig", help="where to write the kubeconfig (default: DIR/kubeconfig)"
    )
    serve.set_defaults(func=cmd_cluster_serve)
    kind = cluster_commands.add_parser(
        "kind", help="a kind cluster with the lab's audit log and personas (needs Docker)"
    )
    kind.add_argument("action", choices=("create", "delete", "status"))
    kind.add_argument("--name", default="gitops-lab", help="kind cluster name")
    kind.add_argument(
        "--image", help="node image (default: kindest/node v1.37.0, built for kind v0.33.0)"
    )
    kind.add_argument(
        "--dir", default=".gitops-lab/kind", help="state folder: kubeconfig, audit log, config"
    )
    kind.set_defaults(func=cmd_cluster_kind)

    init = commands.add_parser("init", help="make a new lab workspace from a template")
    init.add_argument("dir", help="a new folder for the lab")
    init.add_argument("--template", default="web-app", help="web-app (default) or multi-env")
    init.set_defaults(func=cmd_init)

    up = commands.add_parser("up", help="start the lab: its cluster and its reconciler")
    up.add_argument("dir")
    up.add_argument("--cluster", help="embedded (default), kind, or context:NAME")
    up.add_argument("--port", type=int, default=0, help="API server port (embedded cluster)")
    up.set_defaults(func=cmd_up)

    app = commands.add_parser(
        "app", help="open the lab in a browser: the app, with scenarios and a presenter mode"
    )
    app.add_argument(
        "dir", nargs="?", default=APP_DEFAULT_DIR, help=f"the lab (default {APP_DEFAULT_DIR})"
    )
    app.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1 (default 8501)")
    app.add_argument(
        "--fast", action="store_true", help="simulator timings near zero (rehearsals, demos)"
    )
    app.set_defaults(func=cmd_app)

    status = commands.add_parser("status", help="sync and health of every app")
    status.add_argument("dir")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    sync = commands.add_parser("sync", help="sync an app (or all) to its Git revision now")
    sync.add_argument("dir")
    sync.add_argument("app", nargs="?")
    sync.add_argument("--as", dest="persona", default="alice", help="who asks (default alice)")
    sync.set_defaults(func=cmd_sync)

    diff = commands.add_parser(
        "diff", help="what differs between Git and the cluster (exit 0 none, 1 differences)"
    )
    diff.add_argument("dir")
    diff.add_argument("app", nargs="?")
    diff.set_defaults(func=cmd_diff)

    history = commands.add_parser("history", help="an app's syncs, self-heals and rollbacks")
    history.add_argument("dir")
    history.add_argument("app")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)

    rollback = commands.add_parser("rollback", help="roll an app back")
    rollback.add_argument("dir")
    rollback.add_argument("app")
    how = rollback.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--revert",
        nargs="?",
        const="",
        metavar="REV",
        help="commit a git revert of REV (default: the app's newest commit) - the GitOps way",
    )
    how.add_argument(
        "--to", type=int, metavar="HISTORY_ID", help="sync an earlier history entry and pause"
    )
    rollback.add_argument(
        "--as", dest="persona", default="bob", help="who rolls back (default bob)"
    )
    rollback.set_defaults(func=cmd_rollback)

    for name, func, text in (
        ("pause", cmd_pause, "stop automated sync and self-heal for an app"),
        ("resume", cmd_resume, "follow Git again (ends a rollback)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("dir")
        command.add_argument("app")
        command.add_argument("--as", dest="persona", default="bob")
        command.set_defaults(func=func)

    policy = commands.add_parser(
        "policy", help="show an app's sync policy, or switch its settings on or off"
    )
    policy.add_argument("dir")
    policy.add_argument("app")
    for flag, text in (
        ("automated", "sync new Git revisions automatically"),
        ("prune", "delete what Git no longer has"),
        ("self-heal", "undo hand changes to the cluster"),
        ("allow-empty", "allow syncing an empty folder (deletes everything)"),
    ):
        policy.add_argument(f"--{flag}", choices=("on", "off"), help=text)
    policy.add_argument("--as", dest="persona", default="bob", help="who changes it (default bob)")
    policy.set_defaults(func=cmd_policy)

    review = commands.add_parser(
        "review", help="merge requests: propose a branch, check it, approve it, merge it"
    )
    review_commands = review.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    for name, text, default_persona in (
        ("list", "merge requests of the lab", ""),
        ("show", "one merge request: checks, approvals, what merging would do", ""),
        ("open", "open a merge request of a pushed branch into main", "alice"),
        ("approve", "approve the latest push of a merge request", "bob"),
        ("merge", "merge it into main (when the review rules allow it)", "bob"),
        ("close", "close it without merging", "alice"),
    ):
        command = review_commands.add_parser(name, help=text)
        command.add_argument("dir")
        if name == "list":
            command.add_argument("--state", choices=("open", "merged", "closed"))
        elif name == "open":
            command.add_argument("--branch", required=True, help="the pushed branch to merge")
            command.add_argument("--title", required=True, help="what the change does")
        else:
            command.add_argument("id", type=lambda text: int(text.lstrip("!")), help="e.g. 3")
        if default_persona:
            command.add_argument(
                "--as",
                dest="persona",
                default=default_persona,
                help=f"who does it (default {default_persona})",
            )
        command.add_argument("--json", action="store_true", help="print JSON")
        command.set_defaults(func=cmd_review)

    scenario = commands.add_parser("scenario", help="guided scenarios")
    scenario_commands = scenario.add_subparsers(dest="scenario_command", metavar="ACTION")
    scenario_list = scenario_commands.add_parser("list", help="the scenario catalog")
    scenario_list.add_argument("--folder", help="a folder of scenario files (default: the catalog)")
    scenario_list.set_defaults(func=cmd_scenario_list)
    scenario_run = scenario_commands.add_parser(
        "run", help="autoplay a scenario, checking every step (exit 0 only if all passed)"
    )
    scenario_run.add_argument("id", help="a scenario id (see scenario list) or a scenario file")
    scenario_run.add_argument("--dir", help="make the scenario's lab here (default: a temp folder)")
    scenario_run.add_argument("--cluster", help="embedded (default), kind, or context:NAME")
    scenario_run.add_argument("--folder", help="a folder of scenario files (default: the catalog)")
    scenario_run.add_argument("--fast", action="store_true", help="simulator timings near zero")
    scenario_run.add_argument(
        "--keep", action="store_true", help="keep the lab folder given with --dir afterwards"
    )
    scenario_run.set_defaults(func=cmd_scenario_run)

    audit = commands.add_parser(
        "audit", help="the audit trail: who changed what, when (and proof it was not edited)"
    )
    audit.add_argument("dir")
    audit.add_argument("--format", choices=("table", "csv", "json"), default="table")
    audit.add_argument("--since", help="only events at or after this time (RFC 3339)")
    audit.add_argument("--type", help="only these event types, comma-separated")
    audit.add_argument("--app", help="only this app's events")
    audit.add_argument(
        "--verify", action="store_true", help="recompute the hash chain; exit 1 if it was edited"
    )
    audit.set_defaults(func=cmd_audit)

    kubectl = commands.add_parser(
        "kubectl",
        help="the bundled kubectl as a persona: gitops-lab kubectl DIR --as mallory -- get pods",
    )
    kubectl.add_argument("dir")
    kubectl.add_argument(
        "--as", dest="as_persona", default="admin", help="persona (context) to act as"
    )
    kubectl.add_argument("kubectl_args", nargs="*", help="kubectl arguments, after --")
    kubectl.set_defaults(func=cmd_kubectl)

    export = commands.add_parser(
        "export", help="write the Argo CD or Flux objects that do what lab.yaml does"
    )
    export.add_argument("dir")
    export.add_argument("--to", required=True, choices=("argocd", "flux"))
    export.add_argument("--out", help="output folder (default: DIR/export/TOOL)")
    export.add_argument("--repo-url", help="the Git URL your team pushes the repository to")
    export.add_argument(
        "--gpg-key",
        action="append",
        default=[],
        metavar="PERSONA=KEYID",
        help="a trusted persona's GPG key ID, for Argo CD's signatureKeys (repeatable)",
    )
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is for kubectl, untouched (argparse's subparsers mishandle `--`).
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if passthrough and getattr(args, "func", None) is not cmd_kubectl:
        parser.error("`--` is only used with `gitops-lab kubectl`")
    args.passthrough = passthrough
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # The lab says in plain words when the cluster is unreachable (a condition and an audit
    # event); urllib3's own "Retrying ... ProtocolError" lines would only repeat it, several
    # times per watch (e.g. at every Ctrl-C). `-v` shows them.
    if not args.verbose:
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return func(args)
    except UserError as exc:
        print(f"gitops-lab: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
