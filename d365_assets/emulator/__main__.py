"""``python -m d365_assets.emulator``: run the emulator until SIGINT/SIGTERM, printing its settings."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType

from .config import EmulatorConfig, RecurringJob
from .emulator import Emulator, recorded_config
from .faults import faults_from_json, parse_fault_spec

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m d365_assets.emulator", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path("data/emulator"), help="state directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="F&O origin port (0 = ephemeral)")
    parser.add_argument("--authority-port", type=int, default=0, help="authority port (0 = ephemeral)")
    parser.add_argument("--blob-port", type=int, default=0, help="blob storage port (0 = ephemeral)")
    parser.add_argument("--seed", type=int, help="data generator seed (new state directories only)")
    parser.add_argument(
        "--activity-interval",
        type=float,
        help="seconds per automatic business-activity round (0 = only on request)",
    )
    parser.add_argument("--token-lifetime", type=int, help="access token lifetime in seconds")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[:ARGS]",
        help="activate a fault, e.g. throttle:count=3,retry_after=2 or status_not_found:2 (repeatable; "
        "see d365_assets/emulator/faults.py); replaces the active faults",
    )
    parser.add_argument("--faults", metavar="JSON", help="faults as JSON: a fault object or a list of them")
    parser.add_argument(
        "--recurring-job",
        action="append",
        default=[],
        metavar="ID:PROJECT[:COMPANY[:SECONDS]]",
        help="a recurring export job: its activity id (a GUID), data project, company and recurrence in "
        "seconds (none: it exports only when run); repeatable, replaces the recorded jobs",
    )
    parser.add_argument(
        "--visibility-timeout", type=float, help="seconds a dequeued recurring message stays hidden (1800)"
    )
    parser.add_argument(
        "--http-download-locations",
        action="store_true",
        help="answer dequeues with http:// download locations, as F&O behind a load balancer does",
    )
    return parser


def _recurring(args: argparse.Namespace) -> dict[str, object]:
    """The configuration's recurring-job settings the command line gives (ValueError when malformed)."""
    overrides: dict[str, object] = {}
    if args.recurring_job:
        jobs = []
        for spec in args.recurring_job:
            parts = spec.split(":")
            if not 2 <= len(parts) <= 4:
                raise ValueError(f"--recurring-job {spec!r}: expected ID:PROJECT[:COMPANY[:SECONDS]]")
            company = parts[2] if len(parts) > 2 and parts[2] else None
            seconds = float(parts[3]) if len(parts) > 3 else None
            jobs.append(RecurringJob(parts[0].strip("{}").lower(), parts[1], company, seconds))
        overrides["recurring_jobs"] = tuple(jobs)
    if args.visibility_timeout is not None:
        overrides["recurring_visibility_seconds"] = args.visibility_timeout
    if args.http_download_locations:
        overrides["recurring_http_locations"] = True
    return overrides


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print ``KEY=value`` lines a shell can source, serve until signalled."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = tuple(parse_fault_spec(spec) for spec in args.fault)
        faults += faults_from_json(args.faults) if args.faults else ()
        recurring = _recurring(args)
    except ValueError as exc:
        parser.error(str(exc))
    overrides = {
        "seed": args.seed,
        "activity_interval_seconds": args.activity_interval,
        "token_lifetime_seconds": args.token_lifetime,
    }
    config = replace(
        recorded_config(args.state_dir) or EmulatorConfig(),
        host=args.host,
        fo_port=args.port,
        authority_port=args.authority_port,
        blob_port=args.blob_port,
        faults=faults,
        **{key: value for key, value in overrides.items() if value is not None},
        **recurring,
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        emulator = Emulator(args.state_dir, config).start()
    except ValueError as exc:
        parser.exit(
            2,
            f"error: {exc}. --seed and --activity-interval shape the data, so they apply to a new "
            f"--state-dir only: pick a new folder, or leave them out to reuse {args.state_dir}.\n",
        )
    try:
        settings = {
            "D365_ENVIRONMENT_URL": emulator.environment_url,
            "D365_AUTHORITY_HOST": emulator.authority_host,
            "D365_BLOB_HOST": emulator.blob_host,
            "D365_TENANT_ID": emulator.tenant_id,
            "D365_CLIENT_ID": emulator.client_id,
            "D365_CLIENT_SECRET": emulator.client_secret,
            "D365_CA_BUNDLE": str(emulator.ca_bundle.resolve()),
        }
        for key, value in settings.items():
            sys.stdout.write(f"{key}={value}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
