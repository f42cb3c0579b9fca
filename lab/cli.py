"""The `gitops-lab` command: one face of the lab, for terminals and scripts.

Each subcommand is a thin shell over the library: it parses arguments, calls one function,
prints plain words. Errors a user can cause are caught here and shown as one line with what
to do next, with exit code 2; no traceback reaches a learner.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
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
