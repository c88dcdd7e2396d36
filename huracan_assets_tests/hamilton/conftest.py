"""Shared by the Hamilton tests: a small trained CatBoost model and the files of one export."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor

from huracan_assets.core.publishing import ExportPlan, LocalFolderPublisher

FEATURES = ["ret_1h", "vol_24h", "spread_bps", "flow_imbalance"]
DAY = "2026-04-01"
MODEL_PATH = "champions/BTC/1h/model.cbm"


@pytest.fixture(scope="module")
def model_and_rows(tmp_path_factory) -> tuple[CatBoostRegressor, pd.DataFrame]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=FEATURES)
    target = 40.0 * frame["ret_1h"] - 10.0 * frame["spread_bps"] + rng.normal(scale=5.0, size=len(frame))
    model = CatBoostRegressor(
        iterations=20,
        depth=3,
        random_seed=11,
        thread_count=1,
        verbose=False,
        train_dir=str(tmp_path_factory.mktemp("catboost_info")),
    )
    model.fit(frame, target)
    return model, frame


@pytest.fixture(scope="module")
def model_bytes(model_and_rows, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "model.cbm"
    model_and_rows[0].save_model(str(path))
    return path.read_bytes()


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True).encode()


def export_files(
    model_bytes: bytes, feature_names: list[str] | None = None, day: str = DAY
) -> dict[str, bytes]:
    """The files of one day's export (manifest excluded): one BTC/1h champion and four reports."""
    metadata = {
        "coin": "BTC",
        "horizon": "1h",
        "engine": "flow",
        "regime": "trend",
        "feature_names": feature_names or FEATURES,
        "features_hash": "f" * 64,
        "training_window": {"start": "2026-01-01", "end": "2026-03-31"},
        "shadow_test": {"test": "paired_t", "p_value": 0.01, "promoted": True},
        "net_edge_bps": 4.2,
    }
    ranking = {
        "day": day,
        "entries": [
            {
                "rank": 2,
                "coin": "ETH",
                "horizon": "4h",
                "engine": "trend",
                "regime": "range",
                "net_edge_bps": 1.5,
                "confidence": 0.4,
                "capacity_gbp": 80000.0,
            },
            {
                "rank": 1,
                "coin": "BTC",
                "horizon": "1h",
                "engine": "flow",
                "regime": "trend",
                "net_edge_bps": 4.2,
                "confidence": 0.7,
                "capacity_gbp": 150000.0,
            },
        ],
    }
    do_not_trade = {
        "day": day,
        "entries": [{"coin": "XYZ", "reasons": ["liquidity 120000 GBP < 2000000 GBP"]}],
    }
    decisions = [
        {"coin": "BTC", "action": "long", "score": 0.4},
        {"coin": "ETH", "action": "none", "score": 0.0},
    ]
    return {
        MODEL_PATH: model_bytes,
        "champions/BTC/1h/metadata.json": _json(metadata),
        "reports/ranking.json": _json(ranking),
        "reports/do_not_trade.json": _json(do_not_trade),
        "reports/metrics.json": _json({"BTC": {"1h": {"sharpe": 1.1}}}),
        "reports/decision_log.jsonl": b"".join(_json(row) + b"\n" for row in decisions),
    }


def export_plan(files: dict[str, bytes], day: str = DAY, signer=None) -> ExportPlan:
    """The export of ``files`` for ``day`` with fixed hashes, window and creation time."""
    return ExportPlan.create(
        day,
        files,
        features_hash="f" * 64,
        code_hash="c" * 64,
        training_window={"start": "2026-01-01", "end": "2026-03-31"},
        created_at=f"{day}T00:05:00+00:00",
        signer=signer,
    )


def publish_local(root: Path, files: dict[str, bytes], day: str = DAY, signer=None) -> None:
    """:func:`export_plan` published to the local export folder ``root``."""
    LocalFolderPublisher(root).publish(export_plan(files, day, signer))
