"""Damage repaired by re-running the day, through ``huracan daily`` as a user runs it (issue 12).

A copy of the session's small first day (4 simulated coins on a fresh home, ``small_first_day``);
then stored history is damaged the ways a disk or a person damages it, and the same command runs
the day again.
"""

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from huracan_assets.stores.files import verified_partition_file
from huracan_assets_tests.commands import FIRST_DAY, FIRST_DAY_COINS, copy_root, huracan_daily

DAY, COINS = FIRST_DAY, FIRST_DAY_COINS
EARLIER = (date.fromisoformat(DAY) - timedelta(days=2)).isoformat()


def _daily(root: Path) -> tuple[str, Path]:
    done, storage = huracan_daily(root, DAY, fresh=False, SIMULATOR__N_COINS=COINS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, storage


def _exported(root: Path) -> dict[str, str]:
    """The day's exported champions (path -> sha256): models and their metadata."""
    folder = root / "exports" / DAY / "champions"
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _champions(storage: Path) -> list[tuple[str, str, str]]:
    document = json.loads((storage / "champions" / f"date={DAY}" / "data.json").read_text())
    return sorted((c["coin"], c["horizon"], c["engine"]) for c in document["champions"])


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory, small_first_day: Path) -> tuple[Path, Path, dict, list]:
    root = copy_root(small_first_day, tmp_path_factory.mktemp("repair"))
    storage = root / "home" / "storage" / "huracan"
    return root, storage, _exported(root), _champions(storage)


def test_a_deleted_and_a_truncated_history_partition_are_rebuilt_by_running_the_day_again(first):
    root, storage, exported, champions = first
    deleted = storage / "validated_bars" / f"date={EARLIER}" / "symbol=BTC" / "data.parquet"
    truncated = storage / "features" / f"date={EARLIER}" / "symbol=ETH" / "data.parquet"
    assert deleted.exists() and truncated.exists()
    deleted.unlink()
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])

    stdout, _ = _daily(root)

    lost = next(line for line in stdout.splitlines() if "event=stored_partitions_lost" in line)
    assert f"validated_bars[{EARLIER}|BTC]" in lost and f"features[{EARLIER}|ETH]" in lost
    assert "count=2" in lost
    for path, asset, coin in ((deleted, "validated_bars", "BTC"), (truncated, "features", "ETH")):
        verified_partition_file(path.read_bytes(), path, asset, f"{EARLIER}|{coin}")  # whole again
    assert _champions(storage) == champions
    assert _exported(root) == exported


def test_a_partition_moved_aside_as_corrupt_is_rebuilt_by_running_the_day_again(first):
    root, storage, exported, champions = first
    path = storage / "labels" / f"date={EARLIER}" / "symbol=SOL" / "data.parquet"
    path.rename(path.with_name("data.parquet.corrupt-20251121T000000000000Z"))
    # and a flipped byte, found only when the day reads it: the same run rebuilds it and runs BTC again
    flipped = storage / "features" / f"date={EARLIER}" / "symbol=BTC" / "data.parquet"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))

    stdout, _ = _daily(root)

    assert f"labels[{EARLIER}|SOL]" in stdout
    verified_partition_file(path.read_bytes(), path, "labels", f"{EARLIER}|SOL")
    refused = next(line for line in stdout.splitlines() if "event=stored_partitions_refused" in line)
    assert f"features[{EARLIER}|BTC]" in refused
    verified_partition_file(flipped.read_bytes(), flipped, "features", f"{EARLIER}|BTC")
    assert not list(flipped.parent.glob("data.parquet.corrupt-*"))  # the refused copy went with the rebuild
    assert _champions(storage) == champions
    assert _exported(root) == exported
