"""`huracan serve-exchange` starts by hand and answers Binance's REST API; `--source` reaches the settings."""

import json
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
