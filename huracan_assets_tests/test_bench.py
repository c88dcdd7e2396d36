"""The benchmark's plain loops do the work Dagster does: a ratio against a loop that did less
would flatter the Dagster side."""

from pathlib import Path

from huracan_assets.bench import _prepare, differing_exports, fresh_coin_ratio, plain_loop
from huracan_assets.orchestration import DayResult


def test_the_fresh_coin_loop_writes_the_history_dagster_writes(tmp_path: Path) -> None:
    # fresh_coin_ratio compares every stored file of both sides and raises on the first that differs
    dagster_s, loop_s, partitions = fresh_coin_ratio(10, "2025-11-20", tmp_path / "fresh")
    assert dagster_s > 0 and loop_s > 0
    # 2 coins x 3 assets, each over the 10 days and its warm-up
    assert partitions >= 2 * 3 * 10
    for asset in ("validated_bars", "features", "labels"):
        assert len(list((tmp_path / "fresh" / "loop_storage" / asset).rglob("data.parquet"))) >= 20


def test_the_day_loop_exports_what_the_dagster_day_exports(tmp_path: Path) -> None:
    """The overhead ratio's plain loop makes every file of the day's export Dagster's runs make,
    byte for byte (the integrity report's look-back window and heat-map included)."""
    day = "2025-11-20"
    ready = _prepare(4, 6, day, tmp_path)
    ready.runner.run_day(day, ready.coins, DayResult(day=day))
    plain_loop(
        day, ready.coins, ready.settings, ready.market, tmp_path / "storage", tmp_path / "loop_exports"
    )
    exported = [p for p in (tmp_path / "exports" / day).rglob("*") if p.is_file()]
    assert len(exported) >= 13  # the manifest and the day's reports, the heat-map among them
    assert (tmp_path / "loop_exports" / day / "reports" / "data_integrity_heatmap.png").is_file()
    assert differing_exports(day, tmp_path / "exports", tmp_path / "loop_exports") == []
    # and the comparison sees a difference when there is one
    (tmp_path / "loop_exports" / day / "reports" / "ranking.json").write_text("{}")
    assert differing_exports(day, tmp_path / "exports", tmp_path / "loop_exports") == ["reports/ranking.json"]
