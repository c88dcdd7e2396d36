"""The ``huracan`` command.

huracan [--verbose] daily --date 2026-11-25 [--coins N] [--seed S] [--dry-run] [--lookback-days N]
              [--source sim|binance|archives] [--binance-url URL] [--archive-dir PATH]
              [--publisher local|dropbox] [--export-root PATH] [--dropbox-root /FOLDER]
huracan serve-exchange --port P [--now 2026-11-26T00:00:00Z] [--coins N] [--seed S]
huracan import-archives FOLDER [--archive-dir PATH]
huracan validate --seed S --coins N [--days K] [--lookback-days N] [--max-false-pct P ...]
huracan bench --coins N [--lookback-days D] [--workers W] [--scale 20,100,400] [--no-daemon] [--repeat R]

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
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print the traceback of an unexpected error (default: one line)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    # --verbose also after the command (huracan daily ... --verbose); SUPPRESS keeps the top-level value
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    daily = sub.add_parser(
        "daily",
        parents=[verbose],
        help="materialise the whole graph for one day through Dagster ($DAGSTER_HOME)",
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
        "--wait",
        action="store_true",
        help="if another day is running on this instance, wait for it (default: refuse, naming it)",
    )
    daily.add_argument(
        "--lookback-days", type=_positive, help="training window in days (default: lookback_days)"
    )
    daily.add_argument(
        "--source",
        choices=["sim", "binance", "archives"],
        help="market data: the simulator, Binance through ccxt, or imported archives (default: market_data.source)",
    )
    daily.add_argument(
        "--binance-url", help="Binance API base URL, e.g. http://127.0.0.1:8765 (serve-exchange)"
    )
    daily.add_argument("--archive-dir", help="the archive store (default: market_data.archive_dir)")

    serve = sub.add_parser(
        "serve-exchange",
        parents=[verbose],
        help="serve the simulated exchange over Binance's REST API on 127.0.0.1 (Ctrl-C stops)",
    )
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--now", help="the server's clock, e.g. 2025-11-21T00:00:00Z (default: the real time)")
    serve.add_argument("--coins", type=_positive, help="simulated coins (default: simulator.n_coins)")
    serve.add_argument("--seed", type=int, help="simulator seed (default: simulator.seed)")

    archives = sub.add_parser(
        "import-archives",
        parents=[verbose],
        help="verify and import a folder of Binance public-data kline archives (zip)",
    )
    archives.add_argument("folder", help="folder holding the .zip files (searched recursively)")
    archives.add_argument("--archive-dir", help="the archive store (default: market_data.archive_dir)")

    validate = sub.add_parser(
        "validate",
        parents=[verbose],
        help="K days of the whole graph on a market of pure random walks and planted edges; every "
        "champion against the simulator's truth; exit 1 when a threshold is broken",
    )
    validate.add_argument("--seed", type=int, default=1)
    validate.add_argument("--coins", type=_positive, default=20)
    validate.add_argument(
        "--days",
        type=_positive,
        default=None,
        help="consecutive days on one instance (default: champions.shadow_days + 1, the first day "
        "whose challengers come from shadow records)",
    )
    validate.add_argument("--date", type=_date, default="2025-06-01", help="the first day")
    validate.add_argument(
        "--lookback-days",
        type=_positive,
        default=None,
        help="training window in days (default: lookback_days, base.yaml's 150: what production trains on)",
    )
    validate.add_argument(
        "--planted-edge-bps",
        type=float,
        default=None,
        help="1h edge scale; planted coins get 0.5x..2x (default: simulator.planted_edge_bps)",
    )
    validate.add_argument(
        "--truth-days",
        type=_positive,
        default=60,
        help="days after each export day over which a champion's true edge is measured",
    )
    validate.add_argument(
        "--max-false-pct", type=float, default=1.0, help="most false champions, %% of challengers"
    )
    validate.add_argument(
        "--min-detection-pct", type=float, default=90.0, help="fewest planted coins detected, %%"
    )
    validate.add_argument(
        "--max-edge-error-pct", type=float, default=30.0, help="largest median edge error, %%"
    )
    validate.add_argument(
        "--work-dir", help="folder for the instance, storage and exports (default: a new temp folder)"
    )

    keygen = sub.add_parser(
        "signing-key",
        parents=[verbose],
        help="make an Ed25519 key pair for signed exports: the private key into a new file (mode 0600), "
        "the public key (for Hamilton) printed",
    )
    keygen.add_argument("--out", required=True, help="file to create for the private key (must not exist)")

    bench = sub.add_parser(
        "bench", parents=[verbose], help="one day for N simulated coins, through Dagster and as a plain loop"
    )
    bench.add_argument("--coins", type=_positive, required=True)
    bench.add_argument("--lookback-days", type=_positive, default=60)
    bench.add_argument("--date", type=_date, default="2025-11-20")
    bench.add_argument(
        "--workers", type=_positive, default=2, help="Dask workers for dask_speedup (against 1 worker)"
    )
    bench.add_argument(
        "--scale",
        type=_coin_counts,
        default=None,
        metavar="N,N,...",
        help="also a warm day at each of these coin counts, each in its own process (e.g. 20,100,400)",
    )
    bench.add_argument(
        "--no-daemon",
        action="store_true",
        help="skip daemon_ratio (the same day through a real dagster-daemon)",
    )
    bench.add_argument(
        "--repeat",
        type=_positive,
        default=3,
        help="runs of each timed figure; the shortest counts (a shared machine slows single runs)",
    )
    return parser


def _coin_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if len(counts) < 2 or any(n <= 0 for n in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: give two or more positive coin counts, e.g. 20,100,400")
    return counts


def _ensure_dagster_home() -> Path:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path.cwd() / "dagster_home")
        os.environ["DAGSTER_HOME"] = home
    path = Path(home).resolve()
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "dagster.yaml").exists():
        from huracan_assets.automation.instance import MINIMAL_DAGSTER_YAML

        (path / "dagster.yaml").write_text(MINIMAL_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def daily_environment(args: argparse.Namespace) -> dict[str, str]:
    """The ``HURACAN_*`` variables that carry ``huracan daily``'s flags.

    The runs belong to the code location, which builds itself from the environment (as the
    webserver's and the daemon's do), so flags travel as environment variables. A relative
    local export root or archive folder is made absolute.
    """
    flags = {
        "HURACAN_DRY_RUN": "true" if args.dry_run else None,
        "HURACAN_LOOKBACK_DAYS": args.lookback_days,
        "HURACAN_SIMULATOR__N_COINS": args.coins,
        "HURACAN_SIMULATOR__SEED": args.seed,
        "HURACAN_PUBLISHER__KIND": args.publisher,
        "HURACAN_PUBLISHER__EXPORT_ROOT": str(Path(args.export_root).resolve()) if args.export_root else None,
        "HURACAN_PUBLISHER__DROPBOX_ROOT": args.dropbox_root,
        "HURACAN_MARKET_DATA__SOURCE": args.source,
        "HURACAN_MARKET_DATA__BINANCE_BASE_URL": args.binance_url,
        "HURACAN_MARKET_DATA__ARCHIVE_DIR": str(Path(args.archive_dir).resolve())
        if args.archive_dir
        else None,
    }
    return {k: str(v) for k, v in flags.items() if v is not None}


def daily_settings(args: argparse.Namespace) -> HuracanSettings:
    """Settings for ``huracan daily``: base.yaml < HURACAN_* environment < flags.

    Sets the flags' ``HURACAN_*`` variables in this process's environment (see
    :func:`daily_environment`). With the Dropbox publisher the credentials are checked here,
    so a missing variable stops the command before any work (the message names the
    variables, never their values). Raises SettingsError.
    """
    environment = daily_environment(args)
    load_settings()  # the environment alone must be valid before flags are layered on it
    settings = _with_environment(environment)
    if not Path(settings.publisher.export_root).is_absolute():
        environment["HURACAN_PUBLISHER__EXPORT_ROOT"] = str(Path(settings.publisher.export_root).resolve())
        settings = _with_environment(environment)
    os.environ.update(environment)
    if settings.publisher.kind == "dropbox":
        from huracan_assets.stores.dropbox_credentials import DropboxCredentials, DropboxCredentialsError

        try:
            DropboxCredentials.from_env()
        except DropboxCredentialsError as error:
            raise SettingsError(f"publisher.kind=dropbox: {error}") from None
    return settings


def _with_environment(environment: dict[str, str]) -> HuracanSettings:
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    try:
        return load_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_day(day: str, settings: HuracanSettings) -> None:
    """Refuse a day the partitions do not hold: before ``history_start``, or not yet closed."""
    when = date.fromisoformat(day)
    if when < settings.history_start:
        raise SettingsError(
            f"--date {day} is before history_start {settings.history_start} "
            "(HURACAN_HISTORY_START): it has no partition"
        )
    if when < settings.first_partition_day:
        raise SettingsError(
            f"--date {day} is before the first partition {settings.first_partition_day}: history_days "
            f"(HURACAN_HISTORY_DAYS={settings.history_days}) keeps the last {settings.history_days} days "
            f"up to {settings.last_closed_day}"
        )
    if when > settings.last_closed_day:
        clock = f"the clock HURACAN_CLOCK={settings.clock}" if settings.clock else "the real UTC time"
        raise SettingsError(
            f"--date {day} has not closed yet by {clock}: the market has no whole day of data for it "
            f"(latest closed day: {settings.last_closed_day})"
        )


def check_exchange_clock(day: str, settings: HuracanSettings) -> None:
    """Refuse a day the exchange's own clock has not closed (``/api/v3/time``), when candles come
    from the Binance API; an unreachable exchange is named here, before any run starts."""
    source = settings.market_data
    if source.source == "archives" and not source.archive_fill_from_api:
        check_archive_clock(day, settings)
        return
    if source.source != "binance" and not (source.source == "archives" and source.archive_fill_from_api):
        return
    from huracan_assets.config.settings import last_closed_day
    from huracan_assets.resources.binance_api import (
        BinanceApiMarketData,
        MarketDataError,
        pin_server_time,
    )

    where = source.binance_base_url or "Binance (api.binance.com)"
    try:
        now = BinanceApiMarketData(
            base_url=source.binance_base_url, timeframe=settings.timeframe, max_retries=1, backoff_s=0.2
        ).server_time()
    except MarketDataError as error:
        # "binance: cannot reach <url>: connection refused (...)" names the URL and the cause
        raise SettingsError(f"{error} [market_data.binance_base_url, --binance-url]") from None
    pin_server_time(source.binance_base_url, now)  # the runs, in this process, reuse this reading
    last_closed = last_closed_day(now)
    if date.fromisoformat(day) > last_closed:
        raise SettingsError(
            f"--date {day} has not closed yet by the exchange's clock ({where} says {now.isoformat()}): "
            f"the market has no whole day of data for it (latest closed day: {last_closed})"
        )


def check_archive_clock(day: str, settings: HuracanSettings) -> None:
    """Refuse a day after the archives end: their clock is the close of the newest imported candle."""
    from huracan_assets.config.settings import last_closed_day
    from huracan_assets.resources.archives import ArchiveStore

    store = ArchiveStore(Path(settings.market_data.archive_dir).resolve())
    newest = store.newest_close(settings.timeframe)
    if newest is None:
        raise SettingsError(
            f"the archive store {store.root} (market_data.archive_dir, --archive-dir) holds no "
            f"{settings.timeframe} candles: import archives with huracan import-archives FOLDER"
        )
    last_closed = last_closed_day(newest.to_pydatetime())
    if date.fromisoformat(day) > last_closed:
        raise SettingsError(
            f"--date {day} is past the market's clock: the archives in {store.root} end with a candle "
            f"closing at {newest.isoformat()} (the archives' clock; latest whole day: {last_closed})"
        )


def check_export_root(settings: HuracanSettings) -> None:
    """A local export root must be a folder this process can write, before the day is computed."""
    if settings.publisher.kind != "local" or settings.dry_run:
        return
    root = Path(settings.publisher.export_root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".huracan-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise SettingsError(
            f"publisher.export_root {root} (HURACAN_PUBLISHER__EXPORT_ROOT) is not a writable folder: "
            f"{error.strerror or error}"
        ) from None


def check_publisher(settings: HuracanSettings) -> None:
    """Dropbox credentials authenticate and ``publisher.dropbox_root`` is a folder, before the day
    is computed (one line naming the variables or the setting, never a value)."""
    if settings.publisher.kind != "dropbox":
        return
    from huracan_assets.core.publishing import ExportStoreError
    from huracan_assets.resources.publisher import PublisherResource

    try:
        PublisherResource.from_settings(settings.publisher).preflight()
    except ExportStoreError as error:
        raise SettingsError(f"publisher.kind=dropbox: {error}") from None


def check_signing_key() -> None:
    """``HURACAN_EXPORT_SIGNING_KEY``, when set, is an Ed25519 private key (checked before any
    compute; the error names the variable, never its value)."""
    from huracan_assets.core.signing import SigningKeyError, signer_from_env

    try:
        signer_from_env(os.environ)
    except SigningKeyError as error:
        raise SettingsError(str(error)) from None


def cmd_signing_key(args: argparse.Namespace) -> int:
    from huracan_assets.core.signing import generate_signer

    signer, private = generate_signer()
    try:
        # created with 0600 from the start: the key is never readable by others, even briefly
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        print(f"huracan: cannot create {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    with os.fdopen(fd, "w") as handle:
        handle.write(private + "\n")
    print(f"private key: {args.out} (key id {signer.key_id}); export it as HURACAN_EXPORT_SIGNING_KEY")
    print(f"public key for Hamilton: {signer.public_key}")
    return 0


def cmd_daily(args: argparse.Namespace) -> int:
    try:
        settings = daily_settings(args)
        check_signing_key()
        check_day(args.date, settings)
        check_export_root(settings)
        check_publisher(settings)
        check_exchange_clock(args.date, settings)
    except SettingsError as error:
        print(f"huracan: {error}", file=sys.stderr)
        return 2
    home = _ensure_dagster_home()
    import dagster as dg

    from huracan_assets.orchestration import (
        CodeLocationLauncher,
        DayInProgressError,
        DayRunner,
        RunFailedError,
        one_day_at_a_time,
        summary_lines,
    )

    print(
        f"DAGSTER_HOME={home}  day={args.date}  source={settings.market_data.source}  "
        + (
            f"coins={settings.simulator.n_coins}  seed={settings.simulator.seed}  "
            if settings.market_data.source == "sim"
            else ""
        )
        + f"lookback_days={settings.lookback_days}  publisher={settings.publisher.kind}",
        flush=True,
    )
    launcher = CodeLocationLauncher(working_directory=str(Path.cwd()))
    log = lambda line: print(line, flush=True)  # noqa: E731
    with dg.DagsterInstance.get() as instance:
        try:
            with one_day_at_a_time(home, args.date, instance, wait=args.wait, log=log):
                result = DayRunner(launcher, instance, settings, log=log).run(args.date)
        except DayInProgressError as error:
            print(f"huracan: {error}", file=sys.stderr)
            return 3
        except RunFailedError as error:
            print(f"huracan: {error}", file=sys.stderr)
            return 1
    print("\n".join(summary_lines(result)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from huracan_assets.validation import Thresholds, report_lines, run_validation

    try:
        report = run_validation(
            seed=args.seed,
            coins=args.coins,
            first_day=args.date,
            days=args.days,
            lookback_days=args.lookback_days,
            planted_edge_bps=args.planted_edge_bps,
            truth_days=args.truth_days,
            thresholds=Thresholds(
                max_false_pct=args.max_false_pct,
                min_detection_pct=args.min_detection_pct,
                max_edge_error_pct=args.max_edge_error_pct,
            ),
            workdir=Path(args.work_dir).resolve() if args.work_dir else None,
            log=lambda line: print(line, flush=True),
        )
    except SettingsError as error:
        print(f"huracan: {error}", file=sys.stderr)
        return 2
    lines = report_lines(report)
    print("\n".join(lines), flush=True)
    return 1 if report.failures() else 0


def cmd_serve_exchange(args: argparse.Namespace) -> int:
    import pandas as pd

    from huracan_assets.market_sim import SimulatedExchange
    from huracan_assets.market_sim.binance_server import BinanceStandIn

    settings = load_settings()
    sim = settings.simulator
    exchange = SimulatedExchange(
        seed=sim.seed if args.seed is None else args.seed,
        n_coins=args.coins or sim.n_coins,
        timeframe=settings.timeframe,
        planted_fraction=sim.planted_fraction,
        planted_edge_bps=sim.planted_edge_bps,
    )
    now = pd.Timestamp(args.now) if args.now else None
    if now is not None:
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    server = BinanceStandIn(
        exchange, now=None if now is None else now.to_pydatetime(), host=args.host, port=args.port
    )
    print(
        f"event=serve_exchange url={server.url} coins={exchange.n_coins} seed={exchange.seed} "
        f"now={'real time' if now is None else now.isoformat()}",
        flush=True,
    )
    print(
        f"run the graph against it: huracan daily --source binance --binance-url {server.url} --date <day>",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def cmd_import_archives(args: argparse.Namespace) -> int:
    from huracan_assets.resources.archives import ArchiveStore

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"huracan: {folder} is not a folder", file=sys.stderr)
        return 2
    store_dir = args.archive_dir or load_settings().market_data.archive_dir
    report = ArchiveStore(Path(store_dir).resolve()).import_folder(folder)
    for item in report.files:
        detail = item.reason or (f"missing days: {', '.join(item.missing_days)}" if item.missing_days else "")
        print(
            f"event=archive file={Path(item.file).name} status={item.status} rows={item.rows} "
            f"unit={item.time_unit or '-'} header={item.header} checksum={item.checksum}"
            + (f" detail={detail!r}" if detail else "")
        )
        for hole in item.holes:
            print(
                f"event=archive_hole file={Path(item.file).name} symbol={item.symbol} day={hole['day']} "
                f"missing={hole['missing']} expected={hole['expected']} longest={hole['longest']} "
                f"first_missing={hole['first_missing']}"
            )
    holes = [(item.symbol, hole["day"]) for item in report.imported for hole in item.holes]
    print(
        f"imported {len(report.imported)} file(s), rejected {len(report.rejected)}, into {report.store} "
        f"({len(report.symbols_written)} symbol file(s) written; {len(holes)} coin-day(s) with "
        "intra-day holes)"
    )
    return 1 if report.rejected else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from huracan_assets.bench import run_bench

    return run_bench(
        coins=args.coins,
        lookback_days=args.lookback_days,
        day=args.date,
        daemon=not args.no_daemon,
        workers=args.workers,
        scale=args.scale,
        repeat=args.repeat,
    )


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    print(f"huracan: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning  # an operator reads one line per warning, not a source line
    import dagster as dg

    # beta/preview notices about backfill policies and partitioned checks are for developers, not operators
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    commands = {
        "daily": cmd_daily,
        "serve-exchange": cmd_serve_exchange,
        "import-archives": cmd_import_archives,
        "validate": cmd_validate,
        "bench": cmd_bench,
        "signing-key": cmd_signing_key,
    }
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # an operator reads one line; --verbose shows where it came from
        if getattr(args, "verbose", False):
            raise
        print(f"huracan: {one_line(error)} (--verbose shows the traceback)", file=sys.stderr)
        return 1


def one_line(error: BaseException) -> str:
    """The error's own message on one line, its type when it has none."""
    text = " ".join(str(error).split())
    return text if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
