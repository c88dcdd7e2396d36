"""The file formats of stored partitions, without Dagster: Parquet with the frame's ``attrs`` in its
footer, and a coin-day's model folder (``bundle.json`` last, ``.cbm`` files without CatBoost's
volatile stamps). The IO managers (:mod:`huracan_assets.resources.storage`) decide where files go
and write them atomically; the steps and the benchmark read them through these.

Every stored file is verified when it is read (nothing damaged is used, nothing foreign is taken
for a partition):

* A partition's Parquet file carries, in its footer's key-value metadata, the asset and partition
  it belongs to (``huracan.partition``) and the SHA-256 of the whole file (``huracan.sha256``),
  computed with those 64 digest characters set to ``0``: the digest covers every other byte of the
  file, data pages, page headers and footer alike (the schema, the pandas metadata and the
  ``attrs`` included). Pages are also written with CRC checksums and read with their
  verification, so other Parquet readers catch damaged pages too.
  Why in the file and not beside it: the footer is read anyway, a file and its hash are renamed
  into place together (a sidecar would be a second rename that a crash can separate, and twice
  the files for a day of ~12,500 partitions), and checking it costs one SHA-256 over bytes already
  in memory (tens of µs for a partition file) and no event-log query (materialization metadata
  would cost one per partition of a 150-day × coins window).
  Why the file's bytes and not the decoded table: a hash of the bytes needs no canonical form of
  Arrow data (null slots, chunking), and a byte that changes nothing decoded fails too, which a
  store should hear about anyway.
* A model folder's ``bundle.json`` (written last) lists the SHA-256 of every other file in the
  folder and carries the SHA-256 of its own canonical JSON; each file is checked when it is
  loaded, from the bytes it is loaded from.

A file that fails raises :class:`CorruptPartitionError`: one line naming the file and the asset
partition to re-materialise. The IO manager moves the file aside first, so the partition then reads
as never materialised.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from huracan_assets.core.regimes import RegimeThresholds
from huracan_assets.core.training import CoinModels, new_regressor

if TYPE_CHECKING:
    from catboost import CatBoostRegressor

ATTRS_KEY = b"huracan.attrs"
# footer keys of a partition file: whose partition it is, and the SHA-256 of the whole file
PARTITION_KEY = b"huracan.partition"
DIGEST_KEY = b"huracan.sha256"
# the digest's 64 characters while the file is hashed (at write and at check)
_PENDING_DIGEST = b"0" * 64
_HEX_DIGEST = re.compile(rb"[0-9a-f]{64}")


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
    # object columns of strings (or nothing) go to Arrow as they are: the same array as through
    # ``astype("string")``, without building the pandas string column first
    columns: list[tuple[Any, Any, Any]] = []
    for name, column in frame.items():
        if column.dtype == object:
            values = column.to_numpy()
            if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
                columns.append((name, _STRING, values))
            else:
                strings = column.astype("string")
                columns.append((name, strings.dtype, strings))
        else:
            columns.append((name, column.dtype, column))
    layout = tuple((name, dtype) for name, dtype, _ in columns)
    try:
        schema, pandas_meta = _layouts[layout]
    except (KeyError, TypeError):  # TypeError: a column label or dtype that does not hash
        # (each column on the frame's own index, so none is realigned to NaN)
        built = {name: pd.Series(values, dtype=dtype, index=frame.index) for name, dtype, values in columns}
        table = pa.Table.from_pandas(pd.DataFrame(built, index=frame.index), preserve_index=False)
        schema, pandas_meta = table.schema, json.loads(table.schema.metadata[b"pandas"])
        with contextlib.suppress(TypeError):
            _layouts[layout] = (schema, pandas_meta)
    arrays = [
        pa.array(values, type=field.type, from_pandas=True)
        for (_, _, values), field in zip(columns, schema, strict=True)
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
_STRING = pd.StringDtype()


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
    label: str = ""  # the asset partition, as errors name it: models[2025-11-20|BTC]
    origin: Path | None = None  # the partition's path (moved aside when a file fails its check)
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

    def release(self) -> None:
        """Drop the models and frames loaded so far (they load again, verified, when asked for)."""
        self._loaded.clear()
        for name in ("record", "latest"):
            self.__dict__.pop(name, None)

    def read_verified(self, name: str) -> bytes:
        """A file of the folder, once its bytes match the SHA-256 that ``bundle.json`` lists for it.

        Raises :class:`CorruptPartitionError` naming the file and the partition (the folder is
        moved aside: the partition then reads as never materialised and is rebuilt)."""
        path = self.directory / name
        expected = self.bundle.get("files", {}).get(name)
        try:
            data = path.read_bytes()
        except OSError as error:
            self._fail(path, f"unreadable: {_one_line(error)}")
        if expected is None:
            self._fail(path, "not listed in bundle.json")
        if _file_sha256(data) != expected:
            self._fail(
                path, f"content hash mismatch ({len(data)} bytes; truncated or changed after it was written)"
            )
        return data

    def _fail(self, path: Path, problem: str) -> NoReturn:
        error = CorruptPartitionError(self.label or str(self.directory), path, problem)
        raise error.moved(move_aside(self.origin) if self.origin is not None else None)

    def _frame(self, name: str) -> pd.DataFrame:
        if name not in self.bundle.get("files", {}):
            return pd.DataFrame()
        data = self.read_verified(name)
        try:
            table = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True).read()
        except (OSError, pa.ArrowException, ValueError) as error:
            self._fail(self.directory / name, _one_line(error))
        return table_to_frame(table)

    @cached_property
    def record(self) -> pd.DataFrame:
        """The cold-start walk-forward record (empty for a warm day)."""
        return self._frame("record.parquet")

    @cached_property
    def latest(self) -> pd.DataFrame:
        return self._frame("latest.parquet")

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
            path = self.model_path(engine, horizon, regime)
            blob = self.read_verified(path.name)
            model = new_regressor()
            try:
                model.load_model(blob=blob)
            except Exception as error:  # CatBoostError: a listed file that is no model
                self._fail(path, f"not a loadable model: {_one_line(error)}")
            self._loaded[key] = model
        return self._loaded[key]


def write_coin_models(folder: Path, value: CoinModels) -> None:
    metas = []
    files: dict[str, str] = {}  # name -> SHA-256, checked when each file is loaded

    def write(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        files[name] = _file_sha256(data)

    for trained in value.models:
        stem = f"{trained.engine}__{trained.horizon}__{trained.regime}"
        save_reproducible(trained.model, folder / f"{stem}.cbm")
        files[f"{stem}.cbm"] = _file_sha256((folder / f"{stem}.cbm").read_bytes())
        meta = trained.metadata() | {
            "coin": value.coin,
            "day": value.day,
            "features_hash": value.features_hash,
        }
        meta["file"] = f"{stem}.cbm"
        write(f"{stem}.json", json.dumps(meta, indent=1, sort_keys=True).encode())
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
    for name, frame in (("record.parquet", value.record), ("latest.parquet", value.latest)):
        if len(frame):
            sink = pa.BufferOutputStream()
            pq.write_table(frame_to_table(frame), sink, compression="zstd", write_page_checksum=True)
            write(name, sink.getvalue().to_pybytes())
    bundle["files"] = files
    bundle["sha256"] = bundle_digest(bundle)
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


class CorruptPartitionError(CorruptFileError):
    """A stored partition file that is damaged, unreadable or another partition's; one line naming
    the file and the asset partition to re-materialise."""

    def __init__(self, label: str, path: Path, problem: str, moved_to: Path | None = None) -> None:
        self.label, self.path, self.problem, self.moved_to = label, Path(path), problem, moved_to
        aside = f"; moved aside to {moved_to.name}" if moved_to is not None else ""
        super().__init__(f"{label}: {path}: {problem}{aside}; re-materialize {label}")

    def moved(self, to: Path | None) -> CorruptPartitionError:
        return CorruptPartitionError(self.label, self.path, self.problem, to)


def partition_label(asset: str, partition: str) -> str:
    """How errors name an asset partition: ``features[2025-11-20|BTC]``."""
    return f"{asset}[{partition}]"


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:300]


def move_aside(path: Path) -> Path | None:
    """Rename a damaged file or folder to ``<name>.corrupt-<UTC time>`` beside it, so the partition
    reads as never materialised (and is rebuilt) while the bytes stay for a post-mortem. None if
    it was already gone (another reader moved it)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return None
    return aside


def _sha256_without_digest(data: bytes | memoryview, at: int) -> str:
    view = memoryview(data)
    digest = hashlib.sha256(view[:at])
    digest.update(_PENDING_DIGEST)
    digest.update(view[at + len(_PENDING_DIGEST) :])
    return digest.hexdigest()


def _footer_start(data: bytes | bytearray) -> int:
    """Offset of a Parquet file's footer (its last 8 bytes: footer length, ``PAR1``)."""
    return len(data) - 8 - int.from_bytes(data[-8:-4], "little")


def partition_marker(asset: str, partition: str) -> bytes:
    return json.dumps({"asset": asset, "partition": str(partition)}, sort_keys=True).encode()


def partition_file_bytes(table: pa.Table, asset: str, partition: str) -> bytes:
    """The Parquet file of one asset partition: zstd, page checksums, the footer naming the
    partition and holding the file's SHA-256 (see the module docstring)."""
    metadata = {
        **(table.schema.metadata or {}),
        PARTITION_KEY: partition_marker(asset, partition),
        DIGEST_KEY: _PENDING_DIGEST,
    }
    sink = pa.BufferOutputStream()
    pq.write_table(
        table.replace_schema_metadata(metadata), sink, compression="zstd", write_page_checksum=True
    )
    data = bytearray(sink.getvalue().to_pybytes())
    # the footer's own copy (ARROW:schema holds the metadata base64-encoded, not as these bytes)
    at = data.rfind(_PENDING_DIGEST, _footer_start(data))
    data[at : at + len(_PENDING_DIGEST)] = _sha256_without_digest(data, at).encode()
    return bytes(data)


def looks_whole(path: Path) -> bool:
    """Whether a stored partition file is there and ends like a whole Parquet file: its last 8
    bytes are a footer length that fits the file and the ``PAR1`` magic. One ``stat`` and one
    8-byte read, no hash: the day's plan runs it over every file of its look-back window to find
    partitions that are gone, moved aside or cut short (a flipped byte is caught when the file is
    read, and then moved aside, so the next plan finds it missing)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            if size < 12:
                return False
            handle.seek(size - 8)
            tail = handle.read(8)
    except OSError:
        return False
    return tail[4:] == b"PAR1" and int.from_bytes(tail[:4], "little") <= size - 12


def verified_partition_file(data: bytes, path: Path, asset: str, partition: str) -> pq.ParquetFile:
    """The Parquet file in ``data`` once its digest and partition check out (pages verify as read).

    Raises :class:`CorruptPartitionError` naming ``path`` and the asset partition when the file is
    truncated, damaged, unreadable, has no digest, or belongs to another asset partition.
    """
    label = partition_label(asset, partition)

    def corrupt(problem: str) -> CorruptPartitionError:
        return CorruptPartitionError(label, path, problem)

    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        raise corrupt(f"not a whole Parquet file ({len(data)} bytes; truncated?)")
    try:
        file = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True)
        metadata = file.metadata.metadata or {}
    except (OSError, pa.ArrowException, ValueError) as error:
        raise corrupt(f"unreadable footer: {_one_line(error)}") from None
    digest = metadata.get(DIGEST_KEY)
    if digest is None or not _HEX_DIGEST.fullmatch(digest):
        raise corrupt("no content hash in its footer (damaged, or written before stored files were verified)")
    at = data.rfind(digest, max(_footer_start(data), 0))
    if at < 0 or _sha256_without_digest(data, at).encode() != digest:
        raise corrupt("content hash mismatch (the file changed after it was written)")
    marker = metadata.get(PARTITION_KEY)
    if marker != partition_marker(asset, partition):
        try:
            owner = json.loads(marker or b"null")
            owner = partition_label(owner["asset"], owner["partition"])
        except (ValueError, TypeError, KeyError):
            owner = "no partition"
        raise corrupt(f"the file is {owner}'s, not {label}'s")
    return file


def read_verified_table(file: pq.ParquetFile, path: Path, asset: str, partition: str) -> pa.Table:
    """All of a verified file's rows; a page that fails its checksum or does not decode raises."""
    try:
        return file.read(use_threads=False)
    except (OSError, pa.ArrowException, ValueError) as error:
        raise CorruptPartitionError(partition_label(asset, partition), path, _one_line(error)) from None


def _file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_digest(bundle: dict[str, Any]) -> str:
    """SHA-256 of a bundle's canonical JSON (as written), its own ``sha256`` field left out."""
    body = {k: v for k, v in bundle.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, indent=1, sort_keys=True).encode()).hexdigest()


def read_coin_models(folder: Path, asset: str = "models", partition: str | None = None) -> StoredModels:
    """A coin-day's model folder, its ``bundle.json`` checked (its own digest, its coin and day).

    A bundle that does not parse, fails its digest or is another coin-day's gives an ``unreadable``
    coin-day whose reason names the file and the partition: that coin is not traded, the others go
    on; the folder is moved aside, so the partition reads as never materialised. The other files
    are checked against the bundle's digests when they are loaded (:meth:`StoredModels.read_verified`).
    """
    day = folder.parent.name.removeprefix("date=")
    coin = folder.name.removeprefix("symbol=")
    partition = partition or f"{day}|{coin}"
    label = partition_label(asset, partition)
    path = folder / "bundle.json"
    try:
        bundle = read_json(path)
        if not isinstance(bundle, dict) or not {"coin", "day", "status"} <= set(bundle):
            raise CorruptFileError(f"{path}: not a model bundle (needs coin, day and status)")
        if bundle.get("sha256") != bundle_digest(bundle):
            raise CorruptFileError(
                f"{path}: content hash mismatch (or none: written before stored files were verified)"
            )
        if (str(bundle["day"]), str(bundle["coin"])) != (day, coin):
            raise CorruptFileError(
                f"{path}: the folder is models of {bundle['day']}|{bundle['coin']}, not {day}|{coin}"
            )
    except CorruptFileError as error:
        problem = str(error).removeprefix(f"{path}: ")
        failure = CorruptPartitionError(label, path, problem).moved(move_aside(folder))
        bundle = {"coin": coin, "day": day, "status": "unreadable", "reason": str(failure), "models": []}
        return StoredModels(directory=folder, bundle=bundle, models=[], label=label)
    # the version folder the link points at now: a later swap does not mix two versions' files
    return StoredModels(
        directory=folder.resolve(), bundle=bundle, models=bundle.get("models", []), label=label, origin=folder
    )
