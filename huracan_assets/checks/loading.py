"""Loading what a check needs of its own asset: each partition's stored quality record.

``validated_bars`` stores each coin-day's ``BarQuality`` in the frame's ``attrs``, which the
Parquet IO manager keeps in the file's schema metadata. The source-quality checks need only
that record, so this input manager reads the Parquet footer of each partition (about 0.3 ms)
instead of the whole frame (about 7 ms): a history run over thousands of coin-days stays cheap.

Why an input manager: dagster 1.13 rejects ``AssetIn(metadata=...)`` for a check's own asset
("used as both an input (via AssetIn) and a dependency (via AssetDep)",
``decorator_assets_definition_builder.py`` ``validate_can_coexist``); ``input_manager_key`` is the
one property it allows there.
"""

import json
from typing import Any

import dagster as dg

from huracan_assets.resources.storage import ATTRS_KEY, CorruptPartitionError, MissingPartitionError

STORED_ATTRS_LOADER = "huracan_stored_attrs_loader"


def read_stored_attrs(store: Any, asset_key: dg.AssetKey, partition_key: str) -> dict[str, Any]:
    """The ``attrs`` stored with one partition's frame, from the Parquet footer only."""
    path = store.partition_path(asset_key, partition_key)
    if not path.exists():
        raise MissingPartitionError(
            f"{asset_key.to_user_string()}: partition {partition_key} was never materialised"
        )
    # the whole file is read and checked against its digest (see stores/files.py), its pages not decoded
    raw = (store.verified_file(asset_key, partition_key).metadata.metadata or {}).get(ATTRS_KEY)
    return json.loads(raw) if raw else {}


@dg.input_manager(required_resource_keys={"io_manager"})
def stored_attrs_loader(context: dg.InputContext) -> dict[str, dict[str, Any] | None]:
    """``{partition_key: attrs}`` for every partition of the input, read through the IO manager's layout.

    With ``AssetIn(metadata={"allow_missing": True})`` a partition never materialised maps to
    ``None`` (a look-back window over coins that joined later); otherwise it is an error naming it.
    """
    store = context.resources.io_manager
    asset_key = context.asset_key
    keys = [str(k) for k in context.asset_partition_keys] if context.has_asset_partitions else []
    allow_missing = bool((context.definition_metadata or {}).get("allow_missing"))
    out: dict[str, dict[str, Any] | None] = {}
    for key in keys:
        try:
            out[key] = read_stored_attrs(store, asset_key, key)
        except MissingPartitionError:
            if not allow_missing:
                raise
            out[key] = None
        except CorruptPartitionError as error:
            # moved aside: it reads as missing from now on; this check names it once
            context.log.error(f"event=partition_unreadable error={error}")
            if not allow_missing:
                raise
            out[key] = None
    return out
