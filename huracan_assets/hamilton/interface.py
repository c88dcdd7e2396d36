"""Hamilton's side of the export: load a champion, predict, read the ranking and do-not-trade list.

Reads ``LATEST`` (the newest complete day folder), then ``<day>/manifest.json``, from a local
folder (for example a Dropbox-synced one) or straight from Dropbox
(:meth:`HamiltonInterface.from_dropbox`, downloading into a local cache keyed by SHA-256).

Every file is read as bytes and checked against the manifest's size and SHA-256 before it is
parsed or loaded; nothing is unpickled. An export is taken into use only after *every* file it
lists has been checked; when the newest one is broken (a tampered or missing file, no
manifest), the interface keeps serving the last good one and says why in a
:class:`StaleExportWarning`. An export that no ``LATEST`` names is never looked at.
Imports neither dagster nor the assets.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import numbers
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np
import pandas as pd
from catboost import CatBoostRegressor

from huracan_assets.core.consensus import ActingRule
from huracan_assets.core.manifest import (
    LATEST_NAME,
    MANIFEST_NAME,
    ManifestMismatchError,
    is_day,
    manifest_entry,
    parse_manifest,
    validate_rel_path,
    verify_file,
)
from huracan_assets.core.publishing import LocalFolderStore
from huracan_assets.core.signing import SIGNATURE_NAME, SignatureError, load_public_key, verify_signature
from huracan_assets.hamilton.cache import ContentCache

log = logging.getLogger("huracan.hamilton")

_CHAMPIONS_DIR = "champions"
_REPORTS_DIR = "reports"


class HamiltonError(Exception):
    """Base of every error the Hamilton interface raises."""


class ExportNotFoundError(HamiltonError):
    """No published export: ``LATEST`` is absent, or the day folder it names has no manifest."""


class IntegrityError(HamiltonError):
    """A file is unlisted, missing, or does not match the manifest; or its content is malformed."""


class FeatureMismatchError(HamiltonError):
    """A feature vector does not fit the model: missing or extra names, non-numeric or non-finite values."""


class ChampionNotFoundError(HamiltonError):
    """The export has no champion for the requested coin and horizon."""


class ExportUnavailableError(HamiltonError):
    """The place the export lives could not be read (network, permissions, retries used up)."""


class RollbackError(IntegrityError):
    """``LATEST`` names a day older than one this interface already served (signed mode)."""


class StaleExportWarning(UserWarning):
    """The newest export is broken or unreadable; an older, verified one is still being served."""


class ExportSource(Protocol):
    """The read side of an export store (a local folder, or Dropbox); paths relative to its root."""

    def location(self, path: str = "") -> str: ...

    def read(self, path: str) -> bytes | None: ...

    def list_folders(self, folder: str = "") -> list[str]: ...


@dataclass(frozen=True)
class RankingEntry:
    """One row of ``reports/ranking.json``.

    ``net_edge`` is the edge after costs in bps, ``confidence`` is in [0, 1], ``capacity`` is the
    tradable size in GBP; ``rank`` starts at 1 (best).
    """

    coin: str
    regime: str
    net_edge: float
    confidence: float
    capacity: float
    horizon: str
    engine: str
    rank: int


@dataclass(frozen=True)
class TradeRule:
    """The rule the consensus acts on for one champion, as its ``metadata.json`` states it.

    The champion's exported ``net_edge_bps``, trades and p-value are this rule's. ``cost_bps`` is
    the round trip in bps, ``reference_vol_bps`` the coin's median 24h volatility on the export
    day, ``min_abs_pred_bps`` the smallest prediction (bps) that acts at that volatility.
    """

    rule: str
    base_threshold: float
    reference_vol_bps: float
    cost_bps: float
    min_abs_pred_bps: float | None

    def position(self, pred_bps: float, vol_24h_bps: float | None = None) -> int:
        """+1 (buy), -1 (sell) or 0 (hold) for a prediction in bps at the bar's 24h volatility
        (bps; default: the reference volatility)."""
        vol = self.reference_vol_bps if vol_24h_bps is None else vol_24h_bps
        rule = ActingRule(base_threshold=self.base_threshold, reference_vol_bps=self.reference_vol_bps)
        return int(
            rule.positions(np.array([pred_bps], dtype=float), self.cost_bps, np.array([vol], dtype=float))[0]
        )


@dataclass(frozen=True)
class DoNotTradeEntry:
    """One coin of ``reports/do_not_trade.json`` with the reasons it must not be traded."""

    coin: str
    reasons: tuple[str, ...]


def _champion_path(coin: str, horizon: str, name: str) -> str:
    return f"{_CHAMPIONS_DIR}/{coin}/{horizon}/{name}"


class HamiltonInterface:
    """Read-only view of the newest complete, fully verified export.

    ``model_base_path``: a local folder holding ``LATEST`` and the day folders. Or ``source``:
    any :class:`ExportSource` (see :meth:`from_dropbox`). ``cache_dir``: keep verified files on
    local disk keyed by SHA-256, so they are fetched once (used with remote sources).

    The day is fixed when the interface is built (or at :meth:`refresh`), so every call of one
    trading step sees the same export even if a new day is published meanwhile.
    """

    def __init__(
        self,
        model_base_path: str | Path | None = None,
        *,
        source: ExportSource | None = None,
        cache_dir: str | Path | None = None,
        public_key: str | bytes | None = None,
        state_file: str | Path | None = None,
    ) -> None:
        if (model_base_path is None) == (source is None):
            raise ValueError("give either model_base_path (a local folder) or source, not both or neither")
        self._root = Path(model_base_path) if model_base_path is not None else None
        self._source: ExportSource = source if source is not None else LocalFolderStore(self._root)
        self._cache = ContentCache(cache_dir) if cache_dir is not None else None
        self._lock = threading.RLock()
        self._models: dict[tuple[str, str, str], tuple[CatBoostRegressor, dict[str, Any]]] = {}
        # signed mode: every manifest must carry a valid signature by this key, and LATEST never
        # moves back behind a day already served (remembered in state_file across restarts)
        self._public_key = load_public_key(public_key) if public_key is not None else None
        self._state_file = Path(state_file) if state_file is not None else None
        self._served = self._read_served()
        latest = self._read_latest()
        self._refuse_rollback(latest, self._served)
        self._day, self._manifest, self._manifest_raw = self._select(
            latest, newer_than=None, at_least=self._served
        )
        self._remember_served(self._day)

    @classmethod
    def from_dropbox(
        cls,
        root: str = "/huracan",
        cache_dir: str | Path = ".huracan/dropbox-cache",
        *,
        ca_certs: str | None = None,
        timeout_s: float = 30.0,
        max_attempts: int = 5,
        retry_base_delay_s: float = 1.0,
        public_key: str | bytes | None = None,
        state_file: str | Path | None = None,
    ) -> HamiltonInterface:
        """Read the export straight from the Dropbox folder ``root``.

        Credentials come from the environment only (``HURACAN_DROPBOX_APP_KEY``,
        ``HURACAN_DROPBOX_APP_SECRET`` and ``HURACAN_DROPBOX_REFRESH_TOKEN``, or
        ``HURACAN_DROPBOX_ACCESS_TOKEN``). Files are downloaded once into ``cache_dir``, keyed by
        their SHA-256. ``timeout_s`` is per response; failed calls are retried up to
        ``max_attempts`` times with backoff starting at ``retry_base_delay_s`` seconds.
        """
        from huracan_assets.stores.dropbox_credentials import DropboxCredentials
        from huracan_assets.stores.dropbox_store import DropboxStore, RetryPolicy

        store = DropboxStore(
            root,
            DropboxCredentials.from_env(),
            timeout_s=timeout_s,
            retry=RetryPolicy(max_attempts=max_attempts, base_delay_s=retry_base_delay_s),
            ca_certs=ca_certs,
        )
        return cls(source=store, cache_dir=cache_dir, public_key=public_key, state_file=state_file)

    # -- export -------------------------------------------------------------------------------

    @property
    def model_base_path(self) -> Path | None:
        """The local folder read, or None for another source (see :attr:`location`)."""
        return self._root

    @property
    def location(self) -> str:
        """Where the exports are read from (a folder, or ``dropbox:/…``)."""
        return self._source.location()

    @property
    def day(self) -> str:
        """The day folder in use (``YYYY-MM-DD``)."""
        return self._day

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the day's parsed ``manifest.json``."""
        return copy.deepcopy(self._manifest)

    def refresh(self) -> str:
        """Follow ``LATEST`` again and return the day in use.

        Switches to the day it names once that export is fully verified, and drops models of
        other days. If that export is broken or cannot be read, the newest verified export
        between the current day and it is used; failing that, the current one stays in use and
        a :class:`StaleExportWarning` says why.
        """
        with self._lock:
            current_day, current_raw = self._day, self._manifest_raw
        try:
            latest = self._read_latest()
            if latest == current_day and self._read(f"{latest}/{MANIFEST_NAME}") == current_raw:
                return current_day
            self._refuse_rollback(latest, current_day)
            day, manifest, raw = self._select(latest, newer_than=current_day)
        except HamiltonError as exc:
            self._warn_stale(current_day, [str(exc)])
            return current_day
        with self._lock:
            self._day, self._manifest, self._manifest_raw = day, manifest, raw
            self._models = {key: value for key, value in self._models.items() if key[0] == day}
        self._remember_served(day)
        return day

    def _refuse_rollback(self, latest: str, served: str | None) -> None:
        if self._public_key is not None and served is not None and latest < served:
            raise RollbackError(
                f"{self._source.location(LATEST_NAME)} names {latest}, older than {served} already served: "
                "refused (rollback)"
            )

    def _read_served(self) -> str | None:
        if self._state_file is None:
            return None
        try:
            text = self._state_file.read_text().strip()
        except FileNotFoundError:
            return None
        return text if is_day(text) else None

    def _remember_served(self, day: str) -> None:
        if self._state_file is None or (self._served is not None and day <= self._served):
            return
        self._served = day
        tmp = self._state_file.with_name(f".{self._state_file.name}.tmp")
        tmp.write_text(day + "\n")
        tmp.replace(self._state_file)

    def _read(self, path: str) -> bytes | None:
        try:
            return self._source.read(path)
        except OSError as exc:  # ExportStoreError and plain file-system errors alike
            raise ExportUnavailableError(f"cannot read {self._source.location(path)}: {exc}") from exc

    def _read_latest(self) -> str:
        data = self._read(LATEST_NAME)
        if data is None:
            raise ExportNotFoundError(
                f"no export under {self.location}: {LATEST_NAME} is missing (an export without it is not complete)"
            )
        try:
            day = data.decode().strip()
        except UnicodeDecodeError as exc:
            raise IntegrityError(f"{self._source.location(LATEST_NAME)} is not text") from exc
        if not is_day(day):
            raise IntegrityError(
                f"{self._source.location(LATEST_NAME)} must name a day folder YYYY-MM-DD, holds {day!r}"
            )
        return day

    def _select(
        self, latest: str, newer_than: str | None, at_least: str | None = None
    ) -> tuple[str, dict[str, Any], bytes]:
        """Open the export ``latest`` names or, if it is broken, the newest older one that verifies
        (only days after ``newer_than``, and not before ``at_least``, when given). Warns about each
        broken one it skipped."""
        problems: list[str] = []
        first_error: HamiltonError | None = None
        candidates: list[str] = [latest]
        listed = False
        while candidates:
            day = candidates.pop(0)
            try:
                manifest, raw = self._open_export(day)
            except HamiltonError as exc:
                problems.append(str(exc))
                first_error = first_error or exc
                if not listed:
                    listed = True
                    older = (
                        name
                        for name in self._source_folders()
                        if is_day(name)
                        and name < latest
                        and (newer_than is None or name > newer_than)
                        and (at_least is None or name >= at_least)
                    )
                    candidates.extend(sorted(older, reverse=True))
                continue
            if problems:
                self._warn_stale(day, problems)
            return day, manifest, raw
        assert first_error is not None
        raise first_error

    def _source_folders(self) -> list[str]:
        try:
            return self._source.list_folders("")
        except OSError as exc:
            raise ExportUnavailableError(f"cannot list {self.location}: {exc}") from exc

    def _warn_stale(self, serving: str, problems: list[str]) -> None:
        message = f"serving export {serving} from {self.location}; newer export not used: " + "; ".join(
            problems
        )
        log.warning("event=stale_export serving=%s location=%s problems=%s", serving, self.location, problems)
        warnings.warn(message, StaleExportWarning, stacklevel=3)

    def _open_export(self, day: str) -> tuple[dict[str, Any], bytes]:
        """The day's parsed manifest and its raw bytes, after every listed file was verified."""
        manifest_path = f"{day}/{MANIFEST_NAME}"
        raw = self._read(manifest_path)
        if raw is None:
            raise ExportNotFoundError(
                f"the export of {day} is incomplete: {self._source.location(manifest_path)} does not exist"
            )
        try:
            manifest = parse_manifest(raw)
        except ValueError as exc:
            raise IntegrityError(f"{self._source.location(manifest_path)}: {exc}") from exc
        if manifest["day"] != day:
            raise IntegrityError(
                f"{self._source.location(manifest_path)} is for day {manifest['day']!r}, its folder is {day!r}"
            )
        if self._public_key is not None:
            try:
                verify_signature(raw, self._read(f"{day}/{SIGNATURE_NAME}"), self._public_key)
            except SignatureError as exc:
                raise IntegrityError(f"refusing {self._source.location(manifest_path)}: {exc}") from None
        for entry in manifest["files"]:
            self._fetch(day, manifest, entry["path"])
        return manifest, raw

    def _fetch(self, day: str, manifest: dict[str, Any], rel_path: str) -> bytes:
        """The bytes of ``<day>/<rel_path>`` after checking them against ``manifest``."""
        entry = manifest_entry(manifest, rel_path)
        if entry is None:
            raise IntegrityError(f"{rel_path!r} is not listed in {day}/{MANIFEST_NAME}")
        if self._cache is not None:
            cached = self._cache.get(entry["sha256"], entry["bytes"])
            if cached is not None:
                return cached
        data = self._read(f"{day}/{rel_path}")
        if data is None:
            raise IntegrityError(
                f"{rel_path!r} is listed in {day}/{MANIFEST_NAME} but "
                f"{self._source.location(f'{day}/{rel_path}')} is missing"
            )
        try:
            verify_file(manifest, rel_path, data)
        except ManifestMismatchError as exc:
            raise IntegrityError(f"refusing {day}/{rel_path}: {exc}") from exc
        if self._cache is not None:
            self._cache.put(entry["sha256"], data)
        return data

    def _read_verified(self, rel_path: str) -> bytes:
        """The bytes of ``<day>/<rel_path>`` of the export in use, checked against its manifest."""
        with self._lock:
            day, manifest = self._day, self._manifest
        try:
            validate_rel_path(rel_path)
        except ValueError as exc:
            raise IntegrityError(str(exc)) from exc
        return self._fetch(day, manifest, rel_path)

    def _read_json(self, rel_path: str) -> Any:
        data = self._read_verified(rel_path)
        try:
            if rel_path.endswith(".jsonl"):
                rows = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
                if not all(isinstance(row, dict) for row in rows):
                    raise ValueError("every line must be a JSON object")
                return rows
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise IntegrityError(f"{rel_path!r} is not valid JSON: {exc}") from exc

    # -- champions ----------------------------------------------------------------------------

    def list_champions(self) -> list[tuple[str, str]]:
        """Sorted ``(coin, horizon)`` pairs that have both ``model.cbm`` and ``metadata.json``."""
        found: dict[tuple[str, str], set[str]] = {}
        for entry in self._manifest["files"]:
            parts = entry["path"].split("/")
            if len(parts) == 4 and parts[0] == _CHAMPIONS_DIR:
                found.setdefault((parts[1], parts[2]), set()).add(parts[3])
        return sorted(key for key, names in found.items() if {"model.cbm", "metadata.json"} <= names)

    def _require_champion(self, coin: str, horizon: str) -> None:
        champions = self.list_champions()
        if (coin, horizon) not in champions:
            available = ", ".join(f"{c}/{h}" for c, h in champions) or "none"
            raise ChampionNotFoundError(
                f"no champion for coin={coin!r} horizon={horizon!r} in export {self._day}; available: {available}"
            )

    def get_model_metadata(self, coin: str, horizon: str) -> dict[str, Any]:
        """The champion's verified ``metadata.json`` (``feature_names`` in model order, ``net_edge_bps``, ...)."""
        return copy.deepcopy(self._load(coin, horizon)[1])

    def load_model(self, coin: str, horizon: str) -> tuple[CatBoostRegressor, dict[str, Any]]:
        """The champion for ``coin`` and ``horizon``: a CatBoostRegressor predicting the forward
        return in bps, and a copy of its metadata. Cached per (day, coin, horizon)."""
        model, metadata = self._load(coin, horizon)
        return model, copy.deepcopy(metadata)

    def _load(self, coin: str, horizon: str) -> tuple[CatBoostRegressor, dict[str, Any]]:
        with self._lock:
            key = (self._day, coin, horizon)
            if key in self._models:
                return self._models[key]
            self._require_champion(coin, horizon)
            metadata_path = _champion_path(coin, horizon, "metadata.json")
            model_path = _champion_path(coin, horizon, "model.cbm")
            metadata = self._read_json(metadata_path)
            self._check_metadata(metadata_path, metadata, coin, horizon)
            blob = self._read_verified(model_path)
            model = CatBoostRegressor()
            try:
                model.load_model(blob=blob)
            except Exception as exc:  # catboost raises CatBoostError; the file is at fault either way
                raise IntegrityError(f"{model_path!r} is not a loadable CatBoost model: {exc}") from exc
            model_names = list(model.feature_names_ or [])
            if model_names and model_names != list(metadata["feature_names"]):
                raise IntegrityError(
                    f"{model_path!r} feature names {model_names} differ from {metadata_path!r} "
                    f"feature_names {metadata['feature_names']}"
                )
            self._models[key] = (model, metadata)
            return model, metadata

    @staticmethod
    def _check_metadata(rel_path: str, metadata: Any, coin: str, horizon: str) -> None:
        if not isinstance(metadata, dict):
            raise IntegrityError(f"{rel_path!r} must hold a JSON object")
        names = metadata.get("feature_names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise IntegrityError(f"{rel_path!r} needs a non-empty list of string 'feature_names'")
        if len(set(names)) != len(names):
            raise IntegrityError(f"{rel_path!r} lists a feature name twice")
        for field_name, expected in (("coin", coin), ("horizon", horizon)):
            if field_name in metadata and metadata[field_name] != expected:
                raise IntegrityError(
                    f"{rel_path!r} says {field_name}={metadata[field_name]!r}, its folder says {expected!r}"
                )

    # -- prediction ---------------------------------------------------------------------------

    @overload
    def predict(self, coin: str, horizon: str, features: pd.DataFrame) -> np.ndarray: ...
    @overload
    def predict(self, coin: str, horizon: str, features: Mapping[str, float]) -> float: ...

    def predict(self, coin: str, horizon: str, features: Any) -> float | np.ndarray:
        """Predicted forward return in bps.

        ``features``: a mapping ``{feature_name: value}`` giving one float, or a DataFrame with one
        column per feature giving one float per row (numpy array). The names must be exactly the
        model's ``feature_names`` (any order); values must be finite numbers.
        """
        model, metadata = self._load(coin, horizon)
        names: list[str] = list(metadata["feature_names"])
        if isinstance(features, pd.DataFrame):
            matrix = self._frame_matrix(coin, horizon, names, features)
            if matrix.shape[0] == 0:
                return np.empty(0, dtype=np.float64)
            return np.asarray(model.predict(matrix), dtype=np.float64)
        if not hasattr(features, "keys"):
            raise FeatureMismatchError(
                f"features for {coin}/{horizon} must be a mapping or a DataFrame, got {type(features).__name__}"
            )
        self._check_names(coin, horizon, names, list(features.keys()))
        row = []
        for name in names:
            value = features[name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise FeatureMismatchError(
                    f"feature {name!r} for {coin}/{horizon} must be a number, got {type(value).__name__} {value!r}"
                )
            if not math.isfinite(value):
                raise FeatureMismatchError(f"feature {name!r} for {coin}/{horizon} is not finite: {value!r}")
            row.append(float(value))
        return float(model.predict(np.asarray([row], dtype=np.float64))[0])

    @staticmethod
    def _check_names(coin: str, horizon: str, names: list[str], given: list[Any]) -> None:
        duplicated = sorted({str(n) for n in given if given.count(n) > 1})
        missing = [n for n in names if n not in given]
        extra = sorted(str(n) for n in set(given) - set(names))
        if missing or extra or duplicated:
            raise FeatureMismatchError(
                f"features for {coin}/{horizon} do not fit the model: missing {missing}, extra {extra}"
                + (f", duplicated {duplicated}" if duplicated else "")
                + f"; the model expects {names}"
            )

    def _frame_matrix(self, coin: str, horizon: str, names: list[str], frame: pd.DataFrame) -> np.ndarray:
        self._check_names(coin, horizon, names, list(frame.columns))
        for name in names:
            column = frame[name]
            if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
                raise FeatureMismatchError(
                    f"feature {name!r} for {coin}/{horizon} must be numeric, has dtype {column.dtype}"
                )
        matrix = frame[names].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(matrix)
        if bad.any():
            bad_names = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
            raise FeatureMismatchError(
                f"features {bad_names} for {coin}/{horizon} hold non-finite values in {int(bad.any(axis=1).sum())} row(s)"
            )
        return matrix

    # -- reports ------------------------------------------------------------------------------

    def get_report(self, name: str) -> dict[str, Any] | list[Any]:
        """A verified report under ``reports/`` (``name`` like ``"metrics.json"``); ``.jsonl`` gives a list of dicts."""
        rel_path = name if name.startswith(f"{_REPORTS_DIR}/") else f"{_REPORTS_DIR}/{name}"
        if not rel_path.endswith((".json", ".jsonl")):
            raise ValueError(f"report {name!r} is neither .json nor .jsonl")
        listed = {entry["path"] for entry in self._manifest["files"]}
        if rel_path not in listed:
            reports = sorted(
                p.removeprefix(f"{_REPORTS_DIR}/") for p in listed if p.startswith(f"{_REPORTS_DIR}/")
            )
            raise IntegrityError(
                f"{rel_path!r} is not listed in {self._day}/{MANIFEST_NAME}; listed reports: {reports}"
            )
        return self._read_json(rel_path)

    def _report_entries(self, name: str) -> list[dict[str, Any]]:
        report = self.get_report(name)
        entries = report.get("entries") if isinstance(report, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise IntegrityError(f"'reports/{name}' must be an object with a list of objects under 'entries'")
        return entries

    def get_trade_rule(self, coin: str, horizon: str) -> TradeRule:
        """The rule the champion's edge is measured under and the consensus acts on (``metadata.json``'s
        ``trade_rule``); an export that does not state it is refused."""
        metadata = self._load(coin, horizon)[1]
        rule = metadata.get("trade_rule") or {}
        if "base_threshold" not in rule:
            raise IntegrityError(
                f"{_champion_path(coin, horizon, 'metadata.json')!r} states no consensus trade rule"
            )
        reference = rule.get("reference_vol_bps")
        return TradeRule(
            rule=str(rule["rule"]),
            base_threshold=float(rule["base_threshold"]),
            reference_vol_bps=float("nan") if reference is None else float(reference),
            cost_bps=float(rule["cost_bps"]),
            min_abs_pred_bps=None
            if rule.get("min_abs_pred_bps") is None
            else float(rule["min_abs_pred_bps"]),
        )

    def get_ranking_table(self) -> list[RankingEntry]:
        """Champions ranked best first: net edge after costs (bps), confidence, capacity (GBP)."""
        table = []
        for entry in self._report_entries("ranking.json"):
            try:
                table.append(
                    RankingEntry(
                        coin=str(entry["coin"]),
                        regime=str(entry["regime"]),
                        net_edge=float(entry["net_edge_bps"]),
                        confidence=float(entry["confidence"]),
                        capacity=float(entry["capacity_gbp"]),
                        horizon=str(entry["horizon"]),
                        engine=str(entry["engine"]),
                        rank=int(entry["rank"]),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise IntegrityError(f"'reports/ranking.json' entry {entry!r} is malformed: {exc!r}") from exc
        return sorted(table, key=lambda row: row.rank)

    def get_do_not_trade_list(self) -> list[DoNotTradeEntry]:
        """Coins that must not be traded, each with its reasons (liquidity, cost, data, ...)."""
        result = []
        for entry in self._report_entries("do_not_trade.json"):
            reasons = entry.get("reasons")
            if "coin" not in entry or not isinstance(reasons, list):
                raise IntegrityError(
                    f"'reports/do_not_trade.json' entry {entry!r} needs 'coin' and a 'reasons' list"
                )
            result.append(DoNotTradeEntry(coin=str(entry["coin"]), reasons=tuple(str(r) for r in reasons)))
        return result
