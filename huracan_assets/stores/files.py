"""The file formats of stored partitions, without Dagster: Parquet with the frame's ``attrs`` in its
footer, and a coin-day's model folder (``bundle.json`` last, ``.cbm`` files without CatBoost's
volatile stamps). The IO managers (:mod:`huracan_assets.resources.storage`) decide where files go
and write them atomically; the steps and the benchmark read them through these."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from catboost import CatBoostRegressor

from huracan_assets.core.regimes import RegimeThresholds
from huracan_assets.core.training import CoinModels

ATTRS_KEY = b"huracan.attrs"


class MissingPartitionError(RuntimeError):
    """An upstream partition that a step needs was never materialised."""


def split_key(key: str) -> tuple[str, str | None]:
    """("2026-01-01|BTC") -> ("2026-01-01", "BTC"); a plain date key -> (date, None)."""
    keys_by_dimension = getattr(key, "keys_by_dimension", None)
    if keys_by_dimension:
        return keys_by_dimension["date"], keys_by_dimension["symbol"]
    if "|" in key:
        day, symbol = key.split("|", 1)
        return day, symbol
    return key, None


def bare_view(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without its ``attrs``, sharing its data.

    pandas deep-copies ``attrs`` into the result of every operation, column access included; a
    bars partition carries its quality record there, so a column-by-column pass over thousands
    of partitions spent more time copying that record than reading the columns.
    """
    bare = frame.copy(deep=False)
    bare.attrs = {}
    return bare


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """Arrow table of ``frame`` with object columns as strings and ``attrs`` kept as JSON metadata.

    The same table, schema and pandas metadata as ``pa.Table.from_pandas`` of the frame with its
    object columns cast to ``"string"``, built column by column against a schema cached per
    column layout: a history run writes about 12,000 small frames, and ``from_pandas`` spent
    3–4 ms on each working out the same schema and metadata again (0.8–1.3 ms this way).
    """
    attrs = frame.attrs
    frame = bare_view(frame)
    columns = [
        (name, column.astype("string") if column.dtype == object else column)
        for name, column in frame.items()
    ]
    layout = tuple((name, column.dtype) for name, column in columns)
    try:
        schema, pandas_meta = _layouts[layout]
    except (KeyError, TypeError):  # TypeError: a column label or dtype that does not hash
        table = pa.Table.from_pandas(pd.DataFrame(dict(columns)), preserve_index=False)
        schema, pandas_meta = table.schema, json.loads(table.schema.metadata[b"pandas"])
        with contextlib.suppress(TypeError):
            _layouts[layout] = (schema, pandas_meta)
    arrays = [
        pa.array(column, type=field.type, from_pandas=True)
        for (_, column), field in zip(columns, schema, strict=True)
    ]
    metadata = dict(schema.metadata)
    # as from_pandas does: the frame's attrs in the pandas metadata, if they serialize
    attributes = attrs
    try:
        json.dumps(attributes)
    except (TypeError, ValueError):
        attributes = {}
    metadata[b"pandas"] = json.dumps({**pandas_meta, "attributes": attributes}).encode("utf8")
    metadata[ATTRS_KEY] = json.dumps(attrs, default=str).encode()
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(metadata))


_layouts: dict[tuple[Any, ...], tuple[pa.Schema, dict[str, Any]]] = {}


def plain_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow strings (and hive partition dictionaries) back to object columns with None for missing."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.StringDtype | pd.CategoricalDtype):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), None)
    return frame


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    frame = plain_strings(table.to_pandas())
    raw = (table.schema.metadata or {}).get(ATTRS_KEY)
    if raw:
        frame.attrs = json.loads(raw)
    return frame


# -- models -------------------------------------------------------------------------------------
@dataclass
class StoredModels:
    """A coin-day's models as stored: metadata eagerly, out-of-fold frames and models lazily."""

    directory: Path
    bundle: dict[str, Any]
    models: list[dict[str, Any]] = field(default_factory=list)
    _loaded: dict[tuple[str, str, str], CatBoostRegressor] = field(default_factory=dict, repr=False)

    @property
    def coin(self) -> str:
        return self.bundle["coin"]

    @property
    def status(self) -> str:
        return self.bundle["status"]

    @property
    def reason(self) -> str:
        return self.bundle.get("reason", "")

    @property
    def day(self) -> str:
        return self.bundle["day"]

    @property
    def record_kind(self) -> str:
        return self.bundle.get("record_kind", "")

    @property
    def regime_thresholds(self) -> RegimeThresholds:
        return RegimeThresholds(**self.bundle["regime_thresholds"])

    def pooled(self) -> list[dict[str, Any]]:
        return [m for m in self.models if m["regime"] == "all"]

    @cached_property
    def record(self) -> pd.DataFrame:
        """The cold-start walk-forward record (empty for a warm day)."""
        path = self.directory / "record.parquet"
        return table_to_frame(pq.read_table(path)) if path.exists() else pd.DataFrame()

    @cached_property
    def latest(self) -> pd.DataFrame:
        path = self.directory / "latest.parquet"
        return table_to_frame(pq.read_table(path)) if path.exists() else pd.DataFrame()

    def model_path(self, engine: str, horizon: str, regime: str = "all") -> Path:
        return self.directory / f"{engine}__{horizon}__{regime}.cbm"

    def model_metadata(self, engine: str, horizon: str, regime: str = "all") -> dict[str, Any]:
        for meta in self.models:
            if (meta["engine"], meta["horizon"], meta["regime"]) == (engine, horizon, regime):
                return meta
        raise KeyError(f"{self.coin}: no model {engine}/{horizon}/{regime} in {self.directory}")

    def load_model(self, engine: str, horizon: str, regime: str = "all") -> CatBoostRegressor:
        key = (engine, horizon, regime)
        if key not in self._loaded:
            model = CatBoostRegressor()
            model.load_model(str(self.model_path(engine, horizon, regime)), format="cbm")
            self._loaded[key] = model
        return self._loaded[key]


def write_coin_models(folder: Path, value: CoinModels) -> None:
    metas = []
    for trained in value.models:
        stem = f"{trained.engine}__{trained.horizon}__{trained.regime}"
        save_reproducible(trained.model, folder / f"{stem}.cbm")
        meta = trained.metadata() | {
            "coin": value.coin,
            "day": value.day,
            "features_hash": value.features_hash,
        }
        meta["file"] = f"{stem}.cbm"
        (folder / f"{stem}.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        metas.append(meta)
    bundle = {
        "coin": value.coin,
        "day": value.day,
        "status": value.status,
        "reason": value.reason,
        "features_hash": value.features_hash,
        "training_window": value.training_window,
        "record_kind": value.record_kind,
        "regime_thresholds": value.regime_thresholds,
        "regime_fallbacks": value.regime_fallbacks,
        "fits": value.fits,
        "models": metas,
    }
    if len(value.record):
        pq.write_table(frame_to_table(value.record), folder / "record.parquet", compression="zstd")
    if len(value.latest):
        pq.write_table(frame_to_table(value.latest), folder / "latest.parquet", compression="zstd")
    # bundle.json last: its presence marks the folder complete
    (folder / "bundle.json").write_text(json.dumps(bundle, indent=1, sort_keys=True))


# CatBoost stamps every model with a random GUID and the wall-clock end of training; without
# them the same data, code and seed give the same bytes, so the manifest's SHA-256 is stable.
VOLATILE_MODEL_METADATA = ("model_guid", "train_finish_time")


def save_reproducible(model: CatBoostRegressor, path: Path) -> None:
    """Save ``model`` as .cbm without CatBoost's volatile stamps (a copy: the caller's model is untouched)."""
    clean = model.copy()
    metadata = clean.get_metadata()
    # refined (init_model) models also inherit their parent's stamps as "initModel:model_guid", ...
    for key in [k for k in metadata if k.split(":")[-1] in VOLATILE_MODEL_METADATA]:
        del metadata[key]
    clean.save_model(str(path), format="cbm")


class CorruptFileError(ValueError):
    """A stored file that exists but cannot be read as what it should be; the message names it."""


def read_json(path: Path) -> Any:
    """``json.loads`` of a stored file; a file that does not parse raises naming the file."""
    try:
        return json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptFileError(f"{path}: corrupt JSON: {error}") from None


def read_coin_models(folder: Path) -> StoredModels:
    """A coin-day's model folder. A ``bundle.json`` that does not parse gives an ``unreadable``
    coin-day whose reason names the file: that coin is not traded, the others go on."""
    path = folder / "bundle.json"
    try:
        bundle = read_json(path)
        if not isinstance(bundle, dict) or not {"coin", "day", "status"} <= set(bundle):
            raise CorruptFileError(f"{path}: not a model bundle (needs coin, day and status)")
    except CorruptFileError as error:
        day = folder.parent.name.removeprefix("date=")
        coin = folder.name.removeprefix("symbol=")
        bundle = {"coin": coin, "day": day, "status": "unreadable", "reason": str(error), "models": []}
    return StoredModels(directory=folder, bundle=bundle, models=bundle.get("models", []))
