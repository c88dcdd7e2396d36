"""Report files: strict JSON, one decision per log line, and an integrity report that adds up."""

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.bars import validate_day
from huracan_assets.core.integrity import PROBLEM_FIELDS, integrity_markdown, integrity_report
from huracan_assets.core.reports import (
    FrameRecords,
    champion_metadata,
    decision_log_lines,
    regime_map,
    to_json_bytes,
)
from huracan_assets.core.training import COLD_START
from huracan_assets.market_sim import SECONDARY_VENDOR, SimulatedExchange
from huracan_assets_tests.conftest import utc

DAY = date(2025, 3, 4)
HOUR = timedelta(hours=1)


# ---------------------------------------------------------------------------- JSON


def test_to_json_bytes_turns_non_finite_numbers_into_null():
    payload = {
        "nan": float("nan"),
        "inf": float("inf"),
        "nested": {"neg_inf": -np.inf, "values": [np.float64("nan"), 1.5, np.float32(2.5)]},
        "count": np.int64(3),
        "flag": np.bool_(True),
        "when": pd.Timestamp("2025-03-04T12:00", tz="UTC"),
        "name": "BTC",
    }
    raw = to_json_bytes(payload)
    assert raw.endswith(b"\n")
    # a strict parser (one that rejects NaN/Infinity tokens) reads it
    parsed = json.loads(raw, parse_constant=lambda token: pytest.fail(f"non-standard token {token}"))
    assert parsed["nan"] is None and parsed["inf"] is None
    assert parsed["nested"] == {"neg_inf": None, "values": [None, 1.5, 2.5]}
    assert parsed["count"] == 3 and parsed["flag"] is True
    assert parsed["when"] == "2025-03-04T12:00:00+00:00"
    assert parsed["name"] == "BTC"
    # keys are sorted, so equal content gives equal bytes
    assert list(parsed) == sorted(parsed)
    assert to_json_bytes(dict(reversed(list(payload.items())))) == raw


# ---------------------------------------------------------------------------- decision log


def _event_rows() -> pd.DataFrame:
    rows = [
        (
            "SOL",
            "2025-03-04T05:00:00+00:00",
            "1h",
            0.61,
            "strong",
            "buy",
            "oof",
            {"flow": 0.9, "momentum": 0.2},
        ),
        ("BTC", "2025-03-04T23:00:00+00:00", "4h", -0.12, "none", "hold", "live", {"flow": -0.1}),
        ("BTC", "2025-03-04T03:00:00+00:00", "4h", float("nan"), "none", "hold", "oof", {"flow": 0.0}),
    ]
    return pd.DataFrame(
        {
            "coin": [r[0] for r in rows],
            "time": [r[1] for r in rows],
            "horizon": [r[2] for r in rows],
            "S": [r[3] for r in rows],
            "confidence": [0.9, 0.4, 0.0],
            "level": [r[4] for r in rows],
            "action": [r[5] for r in rows],
            "threshold": [0.35, 0.35, 0.35],
            "votes": [json.dumps(r[7], sort_keys=True) for r in rows],
            "weights": [json.dumps(dict.fromkeys(r[7], 1.5), sort_keys=True) for r in rows],
            "kind": [r[6] for r in rows],
            "date": ["2025-03-04"] * 3,
            "symbol": [f"{r[0]}USDT" for r in rows],
        }
    )


def test_decision_log_is_one_json_object_per_event():
    events = _event_rows()
    lines = decision_log_lines(events).decode().splitlines()
    assert len(lines) == len(events)
    parsed = [json.loads(line) for line in lines]
    # sorted by coin, horizon, time; partition columns are not part of the event
    assert [(p["coin"], p["time"]) for p in parsed] == [
        ("BTC", "2025-03-04T03:00:00+00:00"),
        ("BTC", "2025-03-04T23:00:00+00:00"),
        ("SOL", "2025-03-04T05:00:00+00:00"),
    ]
    for p in parsed:
        assert "date" not in p and "symbol" not in p
        assert isinstance(p["votes"], dict) and isinstance(p["weights"], dict)
    assert parsed[2]["votes"] == {"flow": 0.9, "momentum": 0.2}
    assert parsed[0]["S"] is None  # NaN is null, not a bare NaN token
    assert all(list(p) == sorted(p) for p in parsed)


def test_empty_decision_log_is_empty_bytes():
    assert decision_log_lines(_event_rows().iloc[:0]) == b""


def test_regime_map_lists_engines_with_positive_weight():
    events = _event_rows()
    events.loc[1, "weights"] = json.dumps({"flow": 0.0, "momentum": 2.0, "breakout": 1.0})
    result = regime_map("2025-03-04", {"BTC": "trend", "ETH": "range"}, events)
    coins = {c["coin"]: c for c in result["coins"]}
    assert coins["BTC"]["regime"] == "trend"
    assert coins["BTC"]["enabled_engines"] == {"4h": ["breakout", "momentum"]}  # live events only
    assert coins["ETH"]["enabled_engines"] == {}


# ---------------------------------------------------------------------------- integrity


@pytest.fixture(scope="module")
def qualities() -> list[dict]:
    ex = SimulatedExchange(seed=5, n_coins=4, faulty_fraction=0.0)
    params = {"day": DAY, "bar": HOUR, "max_repair_bars": 3, "outlier_z": 8.0}
    clean = ex.ohlcv("BTC", utc(DAY), utc(DAY, 24))
    gappy = ex.ohlcv("ETH", utc(DAY), utc(DAY, 24)).drop(index=[4, 5])
    dropped = ex.ohlcv("BNB", utc(DAY), utc(DAY, 24)).drop(index=range(6, 16))
    duplicated = ex.ohlcv("SOL", utc(DAY), utc(DAY, 24))
    duplicated = pd.concat([duplicated, duplicated.iloc[[7, 9]]], ignore_index=True)
    out = []
    for coin, raw in (("BTC", clean), ("ETH", gappy), ("BNB", dropped), ("SOL", duplicated)):
        secondary = ex.ohlcv(coin, utc(DAY), utc(DAY, 24), vendor=SECONDARY_VENDOR)
        _, quality = validate_day(raw, coin=coin, secondary=secondary, **params)
        out.append(quality.to_dict())
    return out


def test_integrity_report_totals_add_up(qualities):
    checks = {"BTC": {"bars_complete": "pass"}, "SOL": {"bars_complete": "pass", "no_outliers": "fail"}}
    report = integrity_report(DAY.isoformat(), qualities, checks, eligible={"BTC", "ETH", "SOL"})
    rows = {r["coin"]: r for r in report["coins"]}
    assert [r["coin"] for r in report["coins"]] == sorted(rows)
    totals = report["totals"]
    for name in PROBLEM_FIELDS:
        assert totals[name] == sum(q[name] for q in qualities), name
    assert totals["gaps_repaired"] == 2
    assert totals["duplicates_resolved"] == 2
    assert totals["coins"] == 4
    assert totals["days_dropped"] == 1 and totals["quarantined"] == 0 and totals["stale"] == 0
    assert totals["coins_with_problems"] == sum(bool(r["problems"]) for r in rows.values())
    assert rows["BTC"]["eligible"] and not rows["BNB"]["eligible"]
    assert rows["SOL"]["checks"] == {"bars_complete": "pass", "no_outliers": "fail"}
    assert "check no_outliers failed" in rows["SOL"]["problems"]
    assert "duplicates_resolved=2" in rows["SOL"]["problems"]
    assert "gaps_repaired=2" in rows["ETH"]["problems"]


def test_dropped_day_shows_in_problems(qualities):
    report = integrity_report(DAY.isoformat(), qualities, {}, eligible=set())
    bnb = next(r for r in report["coins"] if r["coin"] == "BNB")
    assert bnb["day_dropped"] and bnb["status"] == "dropped" and bnb["kept_bars"] == 0
    assert bnb["problems"][0].startswith("dropped: ")
    assert "exceeds max_repair_bars=3" in bnb["problems"][0]
    markdown = integrity_markdown(report)
    assert "1 days dropped" in markdown
    assert "| BNB | no | dropped | 0 |" in markdown
    # every coin has a row, coins with problems first; a clean coin says so
    btc = next(r for r in report["coins"] if r["coin"] == "BTC")
    assert btc["problems"] == [] and btc["status"] == "ok"
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(report["coins"]) == 4
    assert rows[-1].startswith("| BTC |") and rows[-1].endswith("| none |")
    assert rows[0].startswith("| BNB |")


def test_integrity_report_is_valid_strict_json(qualities):
    report = integrity_report(DAY.isoformat(), qualities, {}, eligible={"BTC"})
    parsed = json.loads(to_json_bytes(report))
    assert parsed["totals"]["coins"] == 4
    assert all(
        v is None or not isinstance(v, float) or math.isfinite(v)
        for row in parsed["coins"]
        for v in row.values()
    )


def test_problem_levels_and_the_history_grid_cover_every_coin_day():
    from huracan_assets.core.integrity import heatmap_markdown, heatmap_png, integrity_history, problem_level

    assert problem_level(None) == -1 and problem_level({"status": "not_listed"}) == -1
    assert problem_level({"status": "ok"}) == 0
    assert problem_level({"status": "repaired", "gaps_repaired": 2}) == 1
    assert problem_level({"status": "ok", "raw_schema_failures": "03:00Z: NaN"}) == 1
    assert problem_level({"status": "ok", "vendor_mismatches": 1, "gaps_repaired": 1}) == 2
    assert problem_level({"status": "stale"}) == problem_level({"status": "delisted"}) == 3
    days = ["2025-11-18", "2025-11-19", "2025-11-20"]
    cells = {(d, c): {"status": "ok"} for d in days for c in ("BTC", "SOL")}
    cells[("2025-11-19", "SOL")] = {"status": "dropped", "reason": "gap of 5 bars"}
    cells[("2025-11-18", "BTC")] = None  # never built
    history = integrity_history(days, ["BTC", "SOL"], cells)
    assert history["levels"] == [[-1, 0, 0], [0, 3, 0]]
    assert history["problems"] == [
        {"day": "2025-11-19", "coin": "SOL", "level": 3, "status": "dropped", "reason": "gap of 5 bars"}
    ]
    png = heatmap_png(history)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    markdown = heatmap_markdown(history)
    assert "data:" not in markdown  # Dagster's UI drops data: images; the grid is text
    grid = [
        line for line in markdown.splitlines() if line.startswith("| BTC |") or line.startswith("| SOL |")
    ]
    assert grid == ["| BTC | \u2b1c\U0001f7e9\U0001f7e9 |", "| SOL | \U0001f7e9\U0001f7e5\U0001f7e9 |"]
    assert "| 2025-11-19 | SOL | dropped | gap of 5 bars |" in markdown


def _champion(record_kind: str) -> dict:
    return {
        "coin": "BTC",
        "horizon": "1h",
        "engine": "flow",
        "model_regime": "all",
        "regime": "trend",
        "model_day": "2026-04-01",
        "shadow_test": {"record_kind": record_kind, "p_value": 0.001},
        "net_edge_bps": 5.0,
        "gross_edge_bps": 25.0,
        "cost_bps": 20.0,
        "capacity_gbp": 1e5,
        "n_trades": 40,
    }


MODEL_META = {"feature_names": ["a"], "train_window": {"start": "s", "end": "e"}, "cutoff": "c"}


def test_a_cold_start_champions_metadata_says_the_fold_models_earned_its_record():
    cold = champion_metadata(_champion(COLD_START), MODEL_META, "hash")["record_earned_by"]
    assert cold["record_kind"] == COLD_START and cold["exported_model_earned_it"] is False
    assert "walk-forward fold models of engine flow" in cold["models"]
    shadow = champion_metadata(_champion("shadow"), MODEL_META, "hash")["record_earned_by"]
    assert shadow["record_kind"] == "shadow" and shadow["exported_model_earned_it"] is True
    assert "flow@2026-04-01" in shadow["models"]


def test_a_report_with_frame_records_is_written_byte_for_byte_as_its_records_would_be():
    frame = pd.DataFrame(
        {
            "coin": ["BTC", "ETH", "SOL"],
            "net_edge_bps": [1.5, float("nan"), float("inf")],
            "n_trades": np.array([3, 0, 7], dtype="int64"),
            "model_day": ["2025-11-19", "2025-11-20", "2025-11-20"],
            "flag": [True, False, True],
        }
    )
    head = {"day": "2025-11-20", "unit": "bps", "gbp_rate": {"usdt_per_gbp": 1.27, "source": "x"}, "z": []}
    expected = to_json_bytes({**head, "rows": frame.to_dict("records")})
    assert to_json_bytes({**head, "rows": FrameRecords(frame, chunk=2)}) == expected
    assert to_json_bytes({**head, "rows": FrameRecords(frame.iloc[0:0])}) == to_json_bytes(
        {**head, "rows": []}
    )
    assert json.loads(expected)["rows"][1]["net_edge_bps"] is None  # NaN and inf are written as null
