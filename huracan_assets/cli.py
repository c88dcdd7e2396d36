"""The ``huracan`` command.

huracan daily --date 2026-11-25 [--coins N] [--seed S] [--dry-run]
              [--publisher local|dropbox] [--export-root PATH] [--dropbox-root /FOLDER]
huracan bench --coins N [--days D]

--publisher dropbox needs credentials in the environment: HURACAN_DROPBOX_APP_KEY,
HURACAN_DROPBOX_APP_SECRET and HURACAN_DROPBOX_REFRESH_TOKEN (preferred), or
HURACAN_DROPBOX_ACCESS_TOKEN.
"""

import argparse
import os
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from huracan_assets.config import HuracanSettings, SettingsError, load_settings


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-11-25: {text!r}") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huracan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    daily = sub.add_parser(
        "daily", help="materialise the whole graph for one day through Dagster ($DAGSTER_HOME)"
    )
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    daily.add_argument("--date", type=_date, default=yesterday, help="UTC day to build (default: yesterday)")
    daily.add_argument(
        "--coins", type=_positive, help="number of simulated coins (default: simulator.n_coins)"
    )
    daily.add_argument("--seed", type=int, help="simulator seed (default: simulator.seed)")
    daily.add_argument(
        "--publisher",
        choices=["local", "dropbox"],
        help="where the export goes (default: publisher.kind, which is local)",
    )
    daily.add_argument("--export-root", help="local export folder (default: publisher.export_root)")
    daily.add_argument(
        "--dropbox-root", help="Dropbox folder for --publisher dropbox (default: publisher.dropbox_root)"
    )
    daily.add_argument("--dry-run", action="store_true", help="run the whole cycle, publish nothing")
    daily.add_argument(
        "--lookback-days", type=_positive, help="training window in days (default: lookback_days)"
    )

    bench = sub.add_parser("bench", help="one day for N simulated coins, through Dagster and as a plain loop")
    bench.add_argument("--coins", type=_positive, required=True)
    bench.add_argument("--lookback-days", type=_positive, default=60)
    bench.add_argument("--date", type=_date, default="2025-11-20")
    return parser


def _ensure_dagster_home() -> Path:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path.cwd() / "dagster_home")
        os.environ["DAGSTER_HOME"] = home
    path = Path(home).resolve()
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "dagster.yaml").exists():
        (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def daily_settings(args: argparse.Namespace) -> HuracanSettings:
    """Settings for ``huracan daily``: base.yaml < HURACAN_* environment < flags.

    A relative local export root is made absolute. With the Dropbox publisher the credentials
    are checked here, so a missing variable stops the command before any work (the message
    names the variables, never their values). Raises SettingsError.
    """
    overrides: dict = {"dry_run": True if args.dry_run else None, "lookback_days": args.lookback_days}
    simulator = {k: v for k, v in {"n_coins": args.coins, "seed": args.seed}.items() if v is not None}
    if simulator:
        overrides["simulator"] = simulator
    publisher = {
        key: value
        for key, value in {
            "kind": args.publisher,
            "export_root": str(Path(args.export_root).resolve()) if args.export_root else None,
            "dropbox_root": args.dropbox_root,
        }.items()
        if value is not None
    }
    if publisher:
        overrides["publisher"] = publisher
    settings = load_settings(**overrides)
    if not Path(settings.publisher.export_root).is_absolute():
        publisher["export_root"] = str(Path(settings.publisher.export_root).resolve())
        settings = load_settings(**{**overrides, "publisher": publisher})
    if settings.publisher.kind == "dropbox":
        from huracan_assets.stores.dropbox_credentials import DropboxCredentials, DropboxCredentialsError

        try:
            DropboxCredentials.from_env()
        except DropboxCredentialsError as error:
            raise SettingsError(f"publisher.kind=dropbox: {error}") from None
    return settings


def cmd_daily(args: argparse.Namespace) -> int:
    try:
        settings = daily_settings(args)
    except SettingsError as error:
        print(f"huracan: {error}", file=sys.stderr)
        return 2
    home = _ensure_dagster_home()
    import dagster as dg

    from huracan_assets.definitions import build_definitions
    from huracan_assets.orchestration import DayRunner, RunFailedError, summary_lines

    defs = build_definitions(settings)
    print(
        f"DAGSTER_HOME={home}  day={args.date}  coins={settings.simulator.n_coins}  seed={settings.simulator.seed}  "
        f"lookback_days={settings.lookback_days}  publisher={settings.publisher.kind}"
    )
    with dg.DagsterInstance.get() as instance:
        try:
            result = DayRunner(defs, instance, settings).run(args.date)
        except RunFailedError as error:
            print(f"huracan: {error}", file=sys.stderr)
            return 1
    print("\n".join(summary_lines(result)))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from huracan_assets.bench import run_bench

    return run_bench(coins=args.coins, lookback_days=args.lookback_days, day=args.date)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import dagster as dg

    # beta/preview notices about backfill policies and partitioned checks are for developers, not operators
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    if args.command == "daily":
        return cmd_daily(args)
    return cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
