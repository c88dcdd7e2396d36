"""The benchmark's plain loops do the work Dagster does: a ratio against a loop that did less
would flatter the Dagster side."""

from pathlib import Path

from huracan_assets.bench import fresh_coin_ratio


def test_the_fresh_coin_loop_writes_the_history_dagster_writes(tmp_path: Path) -> None:
    # fresh_coin_ratio compares every stored file of both sides and raises on the first that differs
    dagster_s, loop_s, partitions = fresh_coin_ratio(10, "2025-11-20", tmp_path / "fresh")
    assert dagster_s > 0 and loop_s > 0
    # 2 coins x 3 assets, each over the 10 days and its warm-up
    assert partitions >= 2 * 3 * 10
    for asset in ("validated_bars", "features", "labels"):
        assert len(list((tmp_path / "fresh" / "loop_storage" / asset).rglob("data.parquet"))) >= 20
