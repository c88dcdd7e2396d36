"""The export's report files, built from the day's tables (pure; the asset only gathers inputs)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import Any

import pandas as pd

from huracan_assets.core.hashing import canonical_json


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _clean(value.item())
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


class FrameRecords:
    """A report's rows kept as a frame until the report is written: :func:`to_json_bytes` turns
    them into records a chunk at a time. At 400 coins a day's scores are about 10^5 rows; as
    Python records all at once they were most of the export step's memory."""

    def __init__(self, frame: pd.DataFrame, chunk: int = 2000) -> None:
        self.frame, self.chunk = frame, chunk

    def lines(self) -> Iterator[str]:
        """Each row as :func:`to_json_bytes` writes a record two levels deep."""
        for start in range(0, len(self.frame), self.chunk):
            for row in self.frame.iloc[start : start + self.chunk].to_dict("records"):
                text = json.dumps(_clean(row), indent=1, sort_keys=True, allow_nan=False)
                yield "  " + text.replace("\n", "\n  ")


def to_json_bytes(obj: Any) -> bytes:
    """Pretty, key-sorted JSON; NaN/inf become null so every consumer can parse it.

    A document whose top-level values include :class:`FrameRecords` is written the same way, byte
    for byte, a row at a time into one buffer: neither every row as a record nor the text twice."""
    if isinstance(obj, dict) and any(isinstance(v, FrameRecords) for v in obj.values()):
        return _with_frame_records(obj)
    return (json.dumps(_clean(obj), indent=1, sort_keys=True, allow_nan=False) + "\n").encode()


def _with_frame_records(obj: dict[str, Any]) -> bytes:
    items = sorted(obj.items())
    out = io.BytesIO()
    out.write(b"{")
    for i, (key, value) in enumerate(items):
        out.write(f"\n {json.dumps(key)}: ".encode())
        if isinstance(value, FrameRecords):
            opening = b"[\n"
            for line in value.lines():
                out.write(opening + line.encode())
                opening = b",\n"
            out.write(b"[]" if opening == b"[\n" else b"\n ]")
        else:
            body = json.dumps(_clean(value), indent=1, sort_keys=True, allow_nan=False)
            out.write(body.replace("\n", "\n ").encode())
        if i < len(items) - 1:
            out.write(b",")
    out.write(b"\n}\n")
    return out.getvalue()


# what identifies a row of a report; rows are written in this order, so a re-run of the day gives
# the same bytes whatever order the coins finished in
ROW_KEYS = ("coin", "horizon", "engine", "regime", "model_regime", "model_day", "record_kind", "test")


def in_row_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by the :data:`ROW_KEYS` it has (stable, so equal keys keep their order)."""
    keys = [k for k in ROW_KEYS if k in frame.columns]
    return frame.sort_values(keys, kind="mergesort") if keys and len(frame) else frame


def sorted_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` in :data:`ROW_KEYS` order (missing keys sort first)."""
    return sorted(records, key=lambda r: tuple(str(r.get(k, "")) for k in ROW_KEYS))


def metrics_report(day: str, scores: pd.DataFrame) -> dict[str, Any]:
    columns = [
        c
        for c in scores.columns
        if c not in ("date", "symbol", "fees_bps", "spread_bps", "slippage_bps", "funding_bps", "borrow_bps")
    ]
    return {"day": day, "rows": FrameRecords(in_row_order(scores[columns])) if len(scores) else []}


def gbp_rate_used(universe: pd.DataFrame) -> dict[str, Any]:
    """The USDT-per-GBP rate the day's GBP figures used and where it came from (the exchange's
    ``GBP/USDT`` last price, or the configured fallback), from the day's universe."""
    if universe is None or universe.empty or "usdt_per_gbp" not in universe:
        return {"usdt_per_gbp": None, "source": "no universe"}
    return {
        "usdt_per_gbp": float(universe["usdt_per_gbp"].iloc[0]),
        "source": str(universe["gbp_rate_source"].iloc[0]),
    }


def costs_report(day: str, scores: pd.DataFrame, gbp_rate: dict[str, Any] | None = None) -> dict[str, Any]:
    """Round-trip costs per coin x horizon x engine (pooled), with the GBP rate the capacities used."""
    rate = {"gbp_rate": gbp_rate} if gbp_rate is not None else {}
    if scores.empty:
        return {"day": day, "rows": [], **rate}
    pooled = scores[scores["regime"] == "all"]
    cols = [
        "coin",
        "horizon",
        "engine",
        "fees_bps",
        "spread_bps",
        "slippage_bps",
        "funding_bps",
        "borrow_bps",
        "cost_bps",
        "gross_edge_bps",
        "net_edge_bps",
        "capacity_gbp",
    ]
    return {
        "day": day,
        "unit": "bps per round trip",
        "rows": FrameRecords(in_row_order(pooled[cols])),
        **rate,
    }


def regime_map(day: str, latest_regimes: dict[str, str], consensus: pd.DataFrame) -> dict[str, Any]:
    live = consensus[consensus["kind"] == "live"] if len(consensus) else consensus
    coins = []
    for coin in sorted(latest_regimes):
        rows = live[live["coin"] == coin] if len(live) else live
        enabled: dict[str, list[str]] = {}
        for row in rows.itertuples():
            weights = json.loads(row.weights)
            enabled[row.horizon] = sorted(e for e, w in weights.items() if w > 0)
        coins.append({"coin": coin, "regime": latest_regimes[coin], "enabled_engines": enabled})
    return {"day": day, "coins": coins}


def decision_log_lines(consensus: pd.DataFrame) -> bytes:
    """One JSON object per DecisionEvent, key-sorted (the decision log is key-value JSON lines)."""
    if consensus.empty:
        return b""
    lines = []
    for row in consensus.sort_values(["coin", "horizon", "time"]).to_dict("records"):
        row = {k: v for k, v in row.items() if k not in ("date", "symbol")}
        row["votes"] = json.loads(row["votes"])
        row["weights"] = json.loads(row["weights"])
        lines.append(canonical_json(_clean(row)).decode())
    return ("\n".join(lines) + "\n").encode()


def champion_event_lines(day: str, events: list[dict[str, str]]) -> bytes:
    """The day's champion decisions (promotion, keep, demotion, skip) as key-sorted JSON lines."""
    return b"".join(canonical_json(_clean({"day": day, **e})) + b"\n" for e in events)


def champion_metadata(
    champion: dict[str, Any], model_meta: dict[str, Any], features_hash: str
) -> dict[str, Any]:
    return {
        "coin": champion["coin"],
        "horizon": champion["horizon"],
        "engine": champion["engine"],
        "regime": champion["model_regime"],
        "current_regime": champion["regime"],
        "feature_names": list(model_meta["feature_names"]),
        "features_hash": features_hash,
        "training_window": model_meta["train_window"],
        "cutoff": model_meta["cutoff"],
        "shadow_test": champion["shadow_test"],
        "net_edge_bps": champion["net_edge_bps"],
        "p_value": champion.get("p_value", champion["shadow_test"].get("p_value")),
        "edge_record": champion.get("edge_record", "promotion"),
        "retest": champion.get("retest"),
        "trade_rule": champion.get("trade_rule"),
        "promotion": champion.get("promotion"),
        "gross_edge_bps": champion["gross_edge_bps"],
        "cost_bps": champion["cost_bps"],
        "capacity_gbp": champion["capacity_gbp"],
        "prediction": "forward log return in bps over the horizon, from the fill",
        "model_day": champion["model_day"],
        "n_trades": champion["n_trades"],
        "record_earned_by": record_earned_by(champion),
    }


def record_earned_by(champion: dict[str, Any]) -> dict[str, Any]:
    """Which model(s) produced the out-of-sample record behind the champion's test and edge.

    A shadow record is the exported model's own predictions on bars after its cut-off. A
    cold-start record (``walk_forward_cold_start``) comes from purged walk-forward fold models
    of the same engine, each fitted on the history before its fold; the exported model is the
    pooled fit on the whole window up to the cut-off, which has no out-of-sample record yet.
    """
    kind = str(champion.get("shadow_test", {}).get("record_kind", ""))
    if kind == "shadow":
        return {
            "record_kind": kind,
            "exported_model_earned_it": True,
            "models": f"this model ({champion['engine']}@{champion['model_day']}) in shadow after its cut-off",
        }
    return {
        "record_kind": kind or "unknown",
        "exported_model_earned_it": False,
        "models": (
            f"purged walk-forward fold models of engine {champion['engine']} over the history before "
            f"{champion['model_day']}; the exported model is the pooled fit on the whole window, "
            "not itself tested out of sample"
        ),
    }
