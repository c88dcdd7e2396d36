"""IO managers: one file (or folder) per partition, written atomically, loaded by dataset scans.

Layout under ``base_dir`` (default ``$DAGSTER_HOME/storage/huracan``)::

    <asset>/date=YYYY-MM-DD/symbol=BTC/data.parquet     per coin-day DataFrames
    <asset>/date=YYYY-MM-DD/data.parquet                per day DataFrames
    <asset>/date=YYYY-MM-DD/data.json                   per day documents (champions, reports)
    models/date=YYYY-MM-DD/symbol=BTC/                  CatBoost .cbm + JSON metadata + out-of-fold Parquet

* A run that covers many partitions (the daily single-run over all coins) hands over a dict
  ``{partition_key: value}``; each value is written to its own partition.
* Every file is written to a temporary name in the same folder and renamed into place
  (``os.replace``); model folders are staged and renamed as a whole. A crash never leaves a
  half file that looks whole.
* Loading many partitions of a DataFrame asset is one ``pyarrow.dataset`` scan over the
  partition files (hive partitioning restores the ``date`` and ``symbol`` columns), not a Python
  loop of ``read_parquet`` calls. Inputs with ``AssetIn(metadata={"load": "by_partition"})``
  get ``{partition_key: DataFrame}`` instead, with each frame's ``attrs`` restored.
* Inputs with ``metadata={"allow_missing": True}`` tolerate partitions that were never
  materialised (a self-dependency on yesterday, say) and get ``None`` / leave them out.
  With ``metadata={"load": "latest"}`` an input gets only the newest materialised partition of
  its window (or ``None``): the champions' state carried over a day whose partition is missing.
* Inputs with ``metadata={"load": "per_coin"}`` get :class:`CoinWindows`: coin -> that coin's
  partitions as a :class:`WindowPart`, read (and verified) only when the coin's work runs. A
  step over 400 coins then holds one coin's window at a time instead of every coin's, and a
  task sent to a Dask worker carries a few paths instead of frames.
"""

import contextlib
import functools
import json
import os
import re
import shutil
import threading
import uuid
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from huracan_assets.core.training import CoinModels, StagedModels
from huracan_assets.stores.files import (
    ATTRS_KEY,
    CorruptFileError,
    CorruptPartitionError,
    MissingPartitionError,
    StoredModels,
    frame_to_table,
    looks_whole,
    move_aside,
    partition_file_bytes,
    partition_label,
    plain_strings,
    read_coin_models,
    read_json,
    read_verified_table,
    save_reproducible,
    split_key,
    table_to_frame,
    verified_partition_file,
    write_coin_models,
)

__all__ = [
    "ATTRS_KEY",
    "CoinDayModels",
    "CoinWindows",
    "CorruptFileError",
    "CorruptPartitionError",
    "JsonIOManager",
    "MISSING",
    "MissingPartitionError",
    "ModelIOManager",
    "ModelsPart",
    "ParquetIOManager",
    "PartitionValues",
    "StoredModels",
    "UNREADABLE",
    "WindowPart",
    "io_managers",
    "loading",
    "save_reproducible",
    "split_key",
]

# attrs key of a window frame: {partition key: error} of partitions left out as unreadable
UNREADABLE = "huracan.unreadable"
# attrs key of a window frame loaded with allow_missing: the partitions of the window never materialised
MISSING = "huracan.missing"


def default_base_dir() -> str:
    home = os.environ.get("DAGSTER_HOME")
    return str(Path(home) / "storage" / "huracan") if home else str(Path.cwd() / ".huracan" / "storage")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary sibling and rename: readers see the old file or the new one, never a part.

    No fsync: these are re-computable intermediate partitions (a rename is atomic against a
    crashing process); the export a consumer reads is fsynced by its publisher.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class _PartitionedIOManager(dg.ConfigurableIOManager):
    """Shared partition <-> path logic. Subclasses write and read one partition."""

    base_dir: str = ""
    suffix: str = ".parquet"

    def _root(self) -> Path:
        return Path(self.base_dir or default_base_dir())

    def _asset_dir(self, asset_key: dg.AssetKey) -> Path:
        return self._root().joinpath(*asset_key.path)

    def partition_path(self, asset_key: dg.AssetKey, partition_key: str) -> Path:
        day, symbol = split_key(partition_key)
        folder = self._asset_dir(asset_key) / f"date={day}"
        if symbol is not None:
            folder = folder / f"symbol={symbol}"
        return folder / f"data{self.suffix}"

    # -- output --------------------------------------------------------------------------------
    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
        if not keys:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()}: Huracan assets are partitioned"
            )
        values = _by_partition(context.asset_key, keys, obj)
        started = _run_started(context)
        for key, value in values.items():
            self.write_partition(context.asset_key, key, value)
            if started is not None:
                path = self.partition_path(context.asset_key, key)
                for removed in remove_write_leftovers(path, started):
                    context.log.warning(f"event=write_leftover_removed path={removed}")

    # -- input ---------------------------------------------------------------------------------
    def load_input(self, context: dg.InputContext) -> Any:
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
        metadata = context.definition_metadata or {}
        allow_missing = bool(metadata.get("allow_missing"))
        asset_key = context.upstream_output.asset_key
        present, refused = [], {}
        for key in keys:
            if self.exists(asset_key, key):
                present.append(key)
            elif (error := self.refused_earlier(asset_key, key)) is not None:
                refused[str(key)] = error
        missing = sorted(set(map(str, keys)) - set(map(str, present)) - set(refused))
        count_loads(context, asset_key, hit=len(present), miss=len(missing), refused=len(refused))
        if missing and not allow_missing:
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise MissingPartitionError(
                f"{asset_key.to_user_string()}: {len(missing)} upstream partition(s) were never materialised: {shown}"
            )
        if metadata.get("load") == "by_partition":
            values = self.read_by_partition(asset_key, present)
            values.unreadable.update(refused)
            return values
        if metadata.get("load") == "lazy":
            if not isinstance(self, ModelIOManager):
                raise dg.DagsterInvariantViolationError(
                    f"{asset_key.to_user_string()}: load=lazy needs models"
                )
            return CoinDayModels(self, asset_key, present, refused)
        if metadata.get("load") == "per_coin":
            if not isinstance(self, ParquetIOManager):
                raise dg.DagsterInvariantViolationError(
                    f"{asset_key.to_user_string()}: load=per_coin needs a Parquet asset"
                )
            return CoinWindows.of(self, asset_key, present, refused, missing)
        if metadata.get("load") == "latest":
            # the newest materialised partition of the window (keys are in time order), or None
            return self.read_partition(asset_key, present[-1]) if present else None
        if len(keys) == 1 and refused:
            raise CorruptFileError(next(iter(refused.values())))
        value = self.read_window(asset_key, present, single=len(keys) == 1)
        if missing and isinstance(value, pd.DataFrame):
            # the step decides whether a gap matters (the champions step names the coin and its days)
            value.attrs[MISSING] = [f"{asset_key.to_user_string()}[{k}]" for k in missing]
        if refused and isinstance(value, pd.DataFrame):
            value.attrs[UNREADABLE] = {**refused, **value.attrs.get(UNREADABLE, {})}
        elif refused and isinstance(value, dict):
            value = PartitionValues(value)
            value.unreadable.update(refused)
        return value

    def refused_earlier(self, asset_key: dg.AssetKey, partition_key: str) -> str | None:
        """The error of a partition whose file an earlier read refused and moved aside (to
        ``<name>.corrupt-<UTC time>``), or None: later steps of the run, and later runs until it
        is rebuilt, name it too instead of taking it for never materialised."""
        path = self.partition_path(asset_key, partition_key)
        try:
            asides = sorted(path.parent.glob(f"{path.name}.corrupt-*"))
        except OSError:
            return None
        if not asides:
            return None
        label = partition_label(asset_key.to_user_string(), str(partition_key))
        return (
            f"{label}: {path}: refused when read and moved aside to {asides[-1].name}; re-materialize {label}"
        )

    def read_by_partition(self, asset_key: dg.AssetKey, keys: list[str]) -> "PartitionValues":
        """``{key: value}`` of every partition that reads; one that is refused (damaged, foreign:
        moved aside) is left out and named in the result's ``unreadable``, so the step fails its
        coin only (:func:`huracan_assets.assets._shared.unreadable_coins`)."""
        out = PartitionValues()
        for key in keys:
            try:
                out[key] = self.read_partition(asset_key, key)
            except CorruptFileError as error:  # CorruptPartitionError included
                out.unreadable[str(key)] = str(error)
        return out

    def exists(self, asset_key: dg.AssetKey, partition_key: str) -> bool:
        return self.partition_path(asset_key, partition_key).exists()

    def read_window(self, asset_key: dg.AssetKey, keys: list[str], single: bool) -> Any:
        """One partition's value for a single-partition input, else ``{key: value}``."""
        if single:
            return self.read_partition(asset_key, keys[0]) if keys else None
        return {k: self.read_partition(asset_key, k) for k in keys}

    def write_partition(self, asset_key: dg.AssetKey, key: str, value: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def read_partition(self, asset_key: dg.AssetKey, key: str) -> Any:  # pragma: no cover
        raise NotImplementedError


# partition counts of the inputs loaded in this process, by run: (asset, served) -> count. The
# metrics resource takes its run's out when the run ends (``resources/metrics.py``,
# ``huracan_history_partitions_loaded``); every run executes its steps in one process
_LOADS: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
_LOADS_LOCK = threading.Lock()


def count_loads(context: dg.InputContext, asset_key: dg.AssetKey, hit: int, miss: int, refused: int) -> None:
    """Count an input's partitions as served from storage: ``hit`` (stored, read or handed to the
    step to read), ``miss`` (never materialised: tolerated, or the step fails) and ``refused`` (an
    earlier read refused the file). Not counted outside a run (direct IO manager calls)."""
    try:
        run_id = context.step_context.run_id
    except Exception:  # an input context built outside a run
        return
    asset = asset_key.to_user_string()
    with _LOADS_LOCK:
        counts = _LOADS[run_id]
        for served, n in (("hit", hit), ("miss", miss), ("refused", refused)):
            if n:
                counts[(asset, served)] += n


def take_load_counts(run_id: str) -> dict[tuple[str, str], int]:
    """The run's input partition counts (:func:`count_loads`), forgotten here once taken."""
    with _LOADS_LOCK:
        return dict(_LOADS.pop(run_id, {}))


class PartitionValues(dict):
    """``{partition key: value}`` of a ``by_partition`` input, plus ``unreadable``: ``{partition
    key: error}`` of the partitions left out because their stored file was refused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unreadable: dict[str, str] = {}


def _by_partition(asset_key: dg.AssetKey, keys: list[str], obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping) and obj and set(obj) <= set(keys) | {str(k) for k in keys}:
        missing = {str(k) for k in keys} - {str(k) for k in obj}
        if missing:
            raise dg.DagsterInvariantViolationError(
                f"{asset_key.to_user_string()}: no output for partition(s) {sorted(missing)[:5]}"
            )
        return {str(k): v for k, v in obj.items()}
    if len(keys) == 1:
        return {str(keys[0]): obj}
    raise dg.DagsterInvariantViolationError(
        f"{asset_key.to_user_string()}: a run over {len(keys)} partitions must return {{partition_key: value}}"
    )


class ParquetIOManager(_PartitionedIOManager):
    """DataFrames as one Parquet file per partition; look-back windows via one dataset scan."""

    suffix: str = ".parquet"

    def write_partition(self, asset_key: dg.AssetKey, key: str, value: Any) -> None:
        if not isinstance(value, pd.DataFrame):
            raise TypeError(
                f"{asset_key.to_user_string()}[{key}]: expected a DataFrame, got {type(value).__name__}"
            )
        data = partition_file_bytes(frame_to_table(value), asset_key.to_user_string(), str(key))
        _atomic_write(self.partition_path(asset_key, key), data)

    def stored_whole(self, asset_key: dg.AssetKey, key: str) -> bool:
        """The partition's file is there and ends like a whole Parquet file (no hash; see
        :func:`~huracan_assets.stores.files.looks_whole`)."""
        return looks_whole(self.partition_path(asset_key, key))

    def verified_file(self, asset_key: dg.AssetKey, key: str) -> pq.ParquetFile:
        """The partition's file once it checks out; a file that fails is moved aside and
        :class:`CorruptPartitionError` names it and the partition to re-materialise."""
        path = self.partition_path(asset_key, key)
        try:
            return verified_partition_file(path.read_bytes(), path, asset_key.to_user_string(), str(key))
        except CorruptPartitionError as error:
            raise error.moved(move_aside(path)) from None

    def verified_table(self, asset_key: dg.AssetKey, key: str) -> pa.Table:
        """The partition's rows, read once from the bytes that were checked (page checksums
        verified as they decode); a file that fails is moved aside, as in :meth:`verified_file`."""
        file = self.verified_file(asset_key, key)
        path = self.partition_path(asset_key, key)
        try:
            return read_verified_table(file, path, asset_key.to_user_string(), str(key))
        except CorruptPartitionError as error:
            raise error.moved(move_aside(path)) from None

    def read_partition(self, asset_key: dg.AssetKey, key: str) -> pd.DataFrame:
        return table_to_frame(self.verified_table(asset_key, key))

    def read_window(self, asset_key: dg.AssetKey, keys: list[str], single: bool = False) -> pd.DataFrame:
        """All partitions as one frame, with ``date`` (and ``symbol``) columns, as a Hive dataset
        scan of their files gives it (the same columns, types and order).

        Each file is read once: its bytes are checked (against its digest, its footer against the
        partition) and its table decoded from those same bytes, pages verifying their checksums.
        A partition that fails is moved aside and left out, and the frame's ``attrs[UNREADABLE]``
        maps its key to the error: the step fails that coin only
        (:func:`huracan_assets.assets._shared.unreadable_coins`).
        """
        frame, errors = self.read_checked(asset_key, keys)
        if errors:
            frame.attrs[UNREADABLE] = {key: str(error) for key, error in errors.items()}
        return frame

    def read_checked(
        self, asset_key: dg.AssetKey, keys: list[str]
    ) -> tuple[pd.DataFrame, dict[str, CorruptPartitionError]]:
        """:meth:`read_window`'s frame of the partitions that read, and the errors of those that
        were refused (moved aside), by partition key."""
        errors: dict[str, CorruptPartitionError] = {}
        tables, days, symbols = [], [], []
        for key in keys:
            try:
                table = self.verified_table(asset_key, key)
            except CorruptPartitionError as error:
                errors[str(key)] = error
                continue
            day, symbol = split_key(str(key))
            tables.append(table)
            days += [day] * table.num_rows
            symbols += [symbol] * table.num_rows
        return _window_frame(tables, days, symbols), errors


@dataclass(frozen=True)
class WindowPart:
    """One coin's partitions of a ``load: "per_coin"`` input: where they are, not their rows.

    :meth:`load` reads them as :meth:`ParquetIOManager.read_window` does (the same frame: ``date``
    and ``symbol`` columns, every file verified), in the process that runs the coin's work (the
    step's, or a Dask worker's: the storage must be reachable there). A partition refused as it
    is read (damaged, foreign: moved aside), or refused by an earlier read, raises
    :class:`CorruptPartitionError` naming it, so that coin fails with it and the others go on."""

    base_dir: str
    asset_path: tuple[str, ...]
    keys: tuple[str, ...]
    refused: tuple[tuple[str, str], ...] = ()

    def load(self) -> pd.DataFrame:
        if self.refused:
            raise CorruptFileError(self.refused[0][1])
        asset_key = dg.AssetKey(list(self.asset_path))
        frame, errors = ParquetIOManager(base_dir=self.base_dir).read_checked(asset_key, list(self.keys))
        if errors:
            raise next(iter(errors.values()))
        return frame


class CoinWindows(Mapping[str, WindowPart]):
    """A ``load: "per_coin"`` input: coin -> :class:`WindowPart` of that coin's materialised
    partitions of the window. ``unreadable``: partition key -> error of the partitions an earlier
    read refused (as a window frame's ``attrs[UNREADABLE]``); ``missing``: ``asset[key]`` of the
    partitions never materialised (``attrs[MISSING]``, with ``allow_missing``). A coin with no
    partition here gets an empty part (its frame is empty)."""

    def __init__(
        self, base_dir: str, asset_key: dg.AssetKey, parts: dict[str, WindowPart], unreadable: dict[str, str]
    ) -> None:
        self.base_dir, self.asset_key, self._parts = base_dir, asset_key, parts
        self.unreadable = unreadable
        self.missing: list[str] = []

    @classmethod
    def of(
        cls,
        manager: "ParquetIOManager",
        asset_key: dg.AssetKey,
        present: list[str],
        refused: dict[str, str],
        missing: list[str],
    ) -> "CoinWindows":
        by_coin: dict[str, list[str]] = {}
        for key in map(str, present):
            by_coin.setdefault(str(split_key(key)[1]), []).append(key)
        refused_by_coin: dict[str, list[tuple[str, str]]] = {}
        for key, error in refused.items():
            refused_by_coin.setdefault(str(split_key(key)[1]), []).append((key, error))
        base = str(manager._root())
        path = tuple(asset_key.path)
        parts = {
            coin: WindowPart(base, path, tuple(by_coin.get(coin, ())), tuple(refused_by_coin.get(coin, ())))
            for coin in sorted(set(by_coin) | set(refused_by_coin))
        }
        windows = cls(base, asset_key, parts, dict(refused))
        windows.missing = [f"{asset_key.to_user_string()}[{k}]" for k in missing]
        return windows

    def __getitem__(self, coin: str) -> WindowPart:
        return self._parts[coin]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def part(self, coin: str) -> WindowPart:
        """``coin``'s part (an empty one when the window holds nothing of it)."""
        return self._parts.get(coin) or WindowPart(self.base_dir, tuple(self.asset_key.path), ())

    def frame(self, coin: str) -> pd.DataFrame:
        """``coin``'s rows of the window, read now (see :meth:`WindowPart.load`)."""
        return self.part(coin).load()

    def partition(self, key: str) -> WindowPart:
        """The part of one partition key (empty when it is not materialised)."""
        part = self.part(str(split_key(key)[1]))
        return WindowPart(
            part.base_dir,
            part.asset_path,
            tuple(k for k in part.keys if k == key),
            tuple(r for r in part.refused if r[0] == key),
        )


class CoinDayModels(Mapping[tuple[str, str], StoredModels]):
    """A ``load: "lazy"`` models input: (coin, day) -> that coin-day's stored models, its
    ``bundle.json`` read and verified when the step asks for it, and not kept.

    A 30-day window of 400 coins is 12,000 model folders, about 38 KB each once read; the
    champions and the export read the few they use (today's, each horizon's cohort, the
    champions' own). A folder refused as it is read comes back with status ``unreadable`` and the
    reason naming the file (and is moved aside), as :func:`read_coin_models` gives it; one an
    earlier read refused is there the same way (``unreadable``: partition key -> error)."""

    def __init__(
        self, manager: "ModelIOManager", asset_key: dg.AssetKey, keys: list[str], refused: dict[str, str]
    ) -> None:
        self.manager, self.asset_key = manager, asset_key
        self.unreadable = dict(refused)
        self._keys: dict[tuple[str, str], str] = {}
        for key in [*map(str, keys), *self.unreadable]:
            day, coin = split_key(key)
            self._keys[(str(coin), day)] = key

    def __getitem__(self, coin_day: tuple[str, str]) -> StoredModels:
        key = self._keys[coin_day]
        if key in self.unreadable:
            coin, day = coin_day
            bundle = {"coin": coin, "day": day, "status": "unreadable", "reason": self.unreadable[key]}
            return StoredModels(directory=Path(), bundle=bundle, label=f"models[{key}]")
        return self.manager.read_partition(self.asset_key, key)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def part(self, coin: str, days: Iterable[str], single: bool = False) -> "ModelsPart":
        """``coin``'s folders of ``days`` (those there), to be read where its task runs; ``single``:
        the one day's folder, or None when it is not there."""
        keys = tuple(self._keys[(coin, d)] for d in sorted(days) if (coin, d) in self._keys)
        refused = tuple((k, self.unreadable[k]) for k in keys if k in self.unreadable)
        return ModelsPart(str(self.manager._root()), tuple(self.asset_key.path), keys, refused, single)


@dataclass(frozen=True)
class ModelsPart:
    """Some stored model folders of one coin (``CoinDayModels.part``), read where the coin's task
    runs (:func:`loading`): a folder refused as it is read (or by an earlier read) raises its
    error, naming the file and the partition, so the coin fails with it."""

    base_dir: str
    asset_path: tuple[str, ...]
    keys: tuple[str, ...]
    refused: tuple[tuple[str, str], ...] = ()
    single: bool = False  # load() gives the one folder (or None), not a list

    def load(self) -> list[StoredModels] | StoredModels | None:
        refused = dict(self.refused)
        manager, asset_key = ModelIOManager(base_dir=self.base_dir), dg.AssetKey(list(self.asset_path))
        out = []
        for key in self.keys:
            if key in refused:
                raise CorruptFileError(refused[key])
            stored = manager.read_partition(asset_key, key)
            if stored.status == "unreadable":
                raise CorruptFileError(stored.reason)
            out.append(stored)
        if self.single:
            return out[0] if out else None
        return out


def loading(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` for ``compute.map``: its :class:`WindowPart` and :class:`ModelsPart` arguments are read where the call runs,
    and the stored models it was handed drop what they loaded once it returns (a step over many
    coins holds one coin's frames and models at a time)."""
    call = functools.partial(_call_loading, fn)
    call.__name__ = getattr(fn, "__name__", "task")  # how the task is named on a Dask cluster
    return call


def _call_loading(fn: Callable[..., Any], *args: Any) -> Any:
    loaded = [arg.load() if isinstance(arg, WindowPart | ModelsPart) else arg for arg in args]
    try:
        return fn(*loaded)
    finally:
        for arg in loaded:
            for stored in arg if isinstance(arg, list) else [arg]:
                if isinstance(stored, StoredModels):
                    stored.release()


def _window_frame(tables: list[pa.Table], days: list[str], symbols: list[str | None]) -> pd.DataFrame:
    """Partition tables (in key order) as one frame plus their ``date`` and ``symbol`` columns,
    with the schemas unified permissively where they differ (what a Hive dataset scan of the
    files gave before they were verified: the first file's schema metadata, the partition
    columns last, as strings)."""
    if not tables:
        return pd.DataFrame()
    try:
        table = pa.concat_tables(tables)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = pa.concat_tables(tables, promote_options="permissive")
    # a file's own column of that name wins over the path's value, as in the dataset scan
    for name, values in (("date", days), ("symbol", symbols)):
        if name not in table.column_names:
            table = table.append_column(name, pa.array(values, pa.string()))
    frame = plain_strings(table.to_pandas())
    if "symbol" in frame and frame["symbol"].isna().all():
        frame = frame.drop(columns="symbol")
    return frame


class JsonIOManager(_PartitionedIOManager):
    """Documents (dicts) as one JSON file per partition."""

    suffix: str = ".json"

    def write_partition(self, asset_key: dg.AssetKey, key: str, value: Any) -> None:
        data = json.dumps(value, indent=1, sort_keys=True, default=_json_default, allow_nan=True).encode()
        _atomic_write(self.partition_path(asset_key, key), data)

    def read_partition(self, asset_key: dg.AssetKey, key: str) -> Any:
        path = self.partition_path(asset_key, key)
        try:
            return read_json(path)
        except CorruptFileError as error:
            raise CorruptFileError(f"{asset_key.to_user_string()}[{key}]: {error}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


class ModelIOManager(_PartitionedIOManager):
    """CatBoost models as ``.cbm`` + JSON metadata, one folder per coin-day, staged and renamed."""

    suffix: str = ""

    def partition_path(self, asset_key: dg.AssetKey, partition_key: str) -> Path:
        day, symbol = split_key(partition_key)
        return self._asset_dir(asset_key) / f"date={day}" / f"symbol={symbol}"

    def exists(self, asset_key: dg.AssetKey, partition_key: str) -> bool:
        return (self.partition_path(asset_key, partition_key) / "bundle.json").exists()

    def staging_path(self, asset_key: dg.AssetKey, key: str) -> Path:
        """A fresh staging folder beside partition ``key``'s (same filesystem: the swap is a rename),
        hidden, and removed by a later run if nothing swaps it in (:func:`remove_swap_leftovers`)."""
        target = self.partition_path(asset_key, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.with_name(f".{target.name}.{uuid.uuid4().hex}.staging")

    def write_partition(self, asset_key: dg.AssetKey, key: str, value: Any) -> None:
        if isinstance(value, StagedModels):
            # written whole where the coin was trained (steps.models.train_and_stage): only the swap is left
            target = self.partition_path(asset_key, key)
            if (value.coin, value.day) != (split_key(key)[1], split_key(key)[0]):
                raise dg.DagsterInvariantViolationError(
                    f"{asset_key.to_user_string()}[{key}]: staged models of {value.day}|{value.coin}"
                )
            try:
                _swap_in(Path(value.folder), target)
            finally:
                shutil.rmtree(value.folder, ignore_errors=True)
            return
        if not isinstance(value, CoinModels):
            raise TypeError(
                f"{asset_key.to_user_string()}[{key}]: expected CoinModels, got {type(value).__name__}"
            )
        target = self.partition_path(asset_key, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.staging")
        staging.mkdir()
        try:
            write_coin_models(staging, value)
            _swap_in(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is not None and context.has_asset_partitions:
            started = _run_started(context)
            # every day's folder, not only this run's: a killed run of another day left its own
            days = self._asset_dir(context.asset_key)
            folders = sorted(days.glob("date=*")) if started is not None and days.is_dir() else []
            for folder in folders:
                for removed in remove_swap_leftovers(folder, started):
                    context.log.warning(f"event=model_leftover_removed path={removed}")
        super().handle_output(context, obj)

    def read_partition(self, asset_key: dg.AssetKey, key: str) -> StoredModels:
        return read_coin_models(self.partition_path(asset_key, key), asset_key.to_user_string(), str(key))


# run id -> when the run started (UTC epoch seconds): set once when the run starts, and asked by
# every output of the run (a run-storage query each, a new SQLite engine each on the stock storage)
_RUN_STARTS: OrderedDict[str, float] = OrderedDict()
_RUN_STARTS_LOCK = threading.Lock()
_RUN_STARTS_KEPT = 64


def run_started_at(instance: dg.DagsterInstance, run_id: str) -> float | None:
    """When run ``run_id`` started (UTC epoch seconds); its creation time while it has not
    started, None for a run the instance does not hold. Remembered once the run has started."""
    with _RUN_STARTS_LOCK:
        started = _RUN_STARTS.get(run_id)
    if started is not None:
        return started
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    if record.start_time is None:
        return record.create_timestamp.timestamp()
    with _RUN_STARTS_LOCK:
        _RUN_STARTS[run_id] = record.start_time
        while len(_RUN_STARTS) > _RUN_STARTS_KEPT:
            _RUN_STARTS.popitem(last=False)
    return record.start_time


def _run_started(context: dg.OutputContext) -> float | None:
    """When the run writing ``context``'s output started (UTC epoch seconds), or None if unknown."""
    try:
        instance, run_id = context.step_context.instance, context.run_id
    except Exception:  # an output context built outside a run (direct IO manager calls)
        return None
    return run_started_at(instance, run_id)


def remove_write_leftovers(path: Path, before: float) -> list[Path]:
    """Once partition ``path`` is written again, remove what earlier writes and reads left beside
    it: temporary files of killed writes (``.<name>.<id>.tmp``) that last changed before
    ``before`` (UTC epoch seconds: the current run's start; a write running now keeps its own),
    and copies refused on read (``<name>.corrupt-<UTC time>``), which the partition just
    rebuilt replaces. One folder listing per written partition. Returns what was removed."""
    temporary = re.compile(rf"^\.{re.escape(path.name)}\.[0-9a-f]+\.tmp$")
    refused = f"{path.name}.corrupt-"
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        stale_tmp = temporary.match(entry.name) is not None
        if not (stale_tmp or entry.name.startswith(refused)):
            continue
        try:
            if stale_tmp and entry.stat(follow_symlinks=False).st_mtime >= before:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(Path(entry.path))
    return removed


_SWAP_LEFTOVER = re.compile(r"^\.(symbol=[^/]+)\.[0-9a-f]+\.(staging|version|link|legacy)$")


def remove_swap_leftovers(folder: Path, before: float) -> list[Path]:
    """Remove what killed model writes left in a day's model folder ``folder``: staging folders,
    links not yet flipped, retired folders and versions no partition link names, each only if it
    last changed before ``before`` (UTC epoch seconds: the current run's start), so a write
    running now keeps its own. Returns what was removed."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return []
    removed = []
    for entry in entries:
        match = _SWAP_LEFTOVER.match(entry.name)
        if match is None:
            continue
        link = folder / match.group(1)
        if match.group(2) == "version" and link.is_symlink() and os.readlink(link) == entry.name:
            continue  # the partition itself
        try:
            if entry.lstat().st_mtime >= before:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        removed.append(entry)
    return removed


def _swap_in(staging: Path, target: Path) -> None:
    """Make the complete folder ``staging`` the partition at ``target``; see :func:`_swap_steps`."""
    for step in _swap_steps(staging, target):
        step()


def _swap_steps(staging: Path, target: Path) -> list[Callable[[], object]]:
    """The swap, one atomic filesystem step each, so that at every instant ``target`` is the old
    complete folder or the new one (a test runs them one at a time).

    ``target`` is a symbolic link to a versioned sibling folder, ``.<name>.<id>.version``; the swap
    renames the staged folder to its version name, points a new link at it and renames that link
    over ``target`` (``os.replace`` of a link is atomic), then removes the old version. Readers go
    through ``target`` as before (``partition_path``, ``exists``); a model folder is read from the
    version the link named when its bundle was read (:func:`read_coin_models` resolves it), so a
    swap under a reader never mixes two versions' files. A crash leaves at most an unreferenced
    version or link beside ``target``, never a missing partition.

    A folder from before versioned folders (a real directory at ``target``) cannot be replaced by a
    link in one step: it is renamed to a version name first, so its first rewrite alone has the
    old window between two renames.
    """
    tag = uuid.uuid4().hex
    version = target.with_name(f".{target.name}.{tag}.version")
    link = target.with_name(f".{target.name}.{tag}.link")
    old: list[Path] = []

    def stage_version() -> None:
        os.replace(staging, version)

    def point_link() -> None:
        os.symlink(version.name, link, target_is_directory=True)

    def retire_plain_folder() -> None:
        if target.is_dir() and not target.is_symlink():
            legacy = target.with_name(f".{target.name}.{tag}.legacy")
            os.replace(target, legacy)
            old.append(legacy)
        elif target.is_symlink():
            old.append(target.parent / os.readlink(target))

    def flip() -> None:
        os.replace(link, target)

    def remove_old() -> None:
        for folder in old:
            if folder.name != version.name:
                shutil.rmtree(folder, ignore_errors=True)

    return [stage_version, point_link, retire_plain_folder, flip, remove_old]


def io_managers(base_dir: str | None = None) -> dict[str, dg.ConfigurableIOManager]:
    base = base_dir or ""
    return {
        "io_manager": ParquetIOManager(base_dir=base),
        "json_io_manager": JsonIOManager(base_dir=base),
        "model_io_manager": ModelIOManager(base_dir=base),
    }
