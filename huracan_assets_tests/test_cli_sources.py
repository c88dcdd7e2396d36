"""`huracan serve-exchange` starts by hand and answers Binance's REST API; `--source` reaches the settings."""

import json
import os
import subprocess
import sys
import urllib.request

from huracan_assets.cli import build_parser


def test_serve_exchange_starts_and_serves_binance_format():
    process = subprocess.Popen(
        [sys.executable, "-m", "huracan_assets.cli", "serve-exchange", "--port", "0", "--coins", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("event=serve_exchange url=http://127.0.0.1:")
        url = first.split("url=")[1].split()[0]
        info = json.loads(urllib.request.urlopen(f"{url}/api/v3/exchangeInfo", timeout=10).read())
        assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT", "BNBUSDT", "GBPUSDT"}
        assert "huracan daily --source binance --binance-url" in process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_daily_takes_a_source_and_its_urls():
    args = build_parser().parse_args(
        ["daily", "--date", "2025-11-20", "--source", "binance", "--binance-url", "http://127.0.0.1:8765"]
    )
    assert args.source == "binance" and args.binance_url == "http://127.0.0.1:8765"
    args = build_parser().parse_args(["import-archives", "/tmp/x", "--archive-dir", "/tmp/store"])
    assert args.folder == "/tmp/x" and args.archive_dir == "/tmp/store"


def _daily(*flags: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HURACAN_")}
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    return subprocess.run(
        [sys.executable, "-m", "huracan_assets.cli", "daily", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_daily_refuses_a_day_the_exchanges_clock_has_not_closed_and_names_an_unreachable_exchange(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huracan_assets.cli",
            "serve-exchange",
            "--port",
            "0",
            "--coins",
            "3",
            "--now",
            "2025-11-21T06:00:00Z",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().split("url=")[1].split()[0]
        # the real clock closed 2025-11-25 long ago; the exchange's clock has not
        done = _daily("--date", "2025-11-25", "--source", "binance", "--binance-url", url, tmp_path=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "has not closed yet by the exchange's clock" in done.stderr
        assert (
            url in done.stderr
            and "2025-11-21T06:00:00" in done.stderr
            and "latest closed day: 2025-11-20" in done.stderr
        )
        assert "Traceback" not in done.stderr
    finally:
        process.terminate()
        process.wait(timeout=10)
    # nothing listens there any more
    done = _daily("--date", "2025-11-20", "--source", "binance", "--binance-url", url, tmp_path=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"binance: cannot reach {url}: connection refused" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) <= 3, done.stderr
