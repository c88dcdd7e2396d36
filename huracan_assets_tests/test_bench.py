"""The benchmark's plain loops do the work Dagster does: a ratio against a loop that did less
would flatter the Dagster side."""

import shutil
from pathlib import Path

import dagster as dg

from huracan_assets.automation.jobs import PER_COIN_DAILY
from huracan_assets.bench import _open, differing_exports, fresh_coin_ratio, plain_loop
from huracan_assets.orchestration import DayResult
from huracan_assets.partitions import coin_day_key
from huracan_assets.resources.storage import ModelIOManager, ParquetIOManager


def test_the_fresh_coin_loop_writes_the_history_dagster_writes(tmp_path: Path) -> None:
    # fresh_coin_ratio compares every stored file of both sides and raises on the first that differs
    dagster_s, loop_s, partitions = fresh_coin_ratio(10, "2025-11-20", tmp_path / "fresh")
    assert dagster_s > 0 and loop_s > 0
    # 2 coins x 3 assets, each over the 10 days and its warm-up
    assert partitions >= 2 * 3 * 10
    for asset in ("validated_bars", "features", "labels"):
        assert len(list((tmp_path / "fresh" / "loop_storage" / asset).rglob("data.parquet"))) >= 20


def _day_files(storage: Path, day: str) -> dict[str, bytes]:
    """Every file the per-coin assets stored for ``day``, by ``asset/date=…/symbol=…/name``
    (a model folder is read through its ``symbol=…`` link, not its versioned name)."""
    out = {}
    for asset in PER_COIN_DAILY:
        for entry in sorted((storage / asset / f"date={day}").glob("symbol=*")):
            files = (
                [entry] if entry.is_file() else sorted(p for p in entry.resolve().rglob("*") if p.is_file())
            )
            for path in files:
                name = entry.name if path == entry else f"{entry.name}/{path.relative_to(entry.resolve())}"
                out[f"{asset}/date={day}/{name}"] = path.read_bytes()
    return out


def test_the_day_loop_writes_and_exports_what_the_dagster_day_does(tmp_path: Path, monkeypatch) -> None:
    """The overhead ratio's plain loop stores every per-coin partition of the day and every file
    of the day's export (the integrity report's look-back window and heat-map included) byte for
    byte as Dagster's runs do, on a day with a listed coin that is not eligible (its models are
    stored skipped, and it still gets scores and a consensus, as the assets give it) and a coin
    that trains its cold start beside warm ones."""
    first, previous, day = "2025-11-18", "2025-11-19", "2025-11-20"
    # the first day: 4 coins, all eligible and trained (their cold start)
    start = _open(4, 10, day, tmp_path)
    start.runner.prepare(first, DayResult(day=first))
    coins = list(start.runner.instance.get_dynamic_partitions("coins"))
    start.runner.run_day(first, coins, DayResult(day=first))
    # the day before: only the 2 most liquid eligible, the other two stored skipped
    monkeypatch.setenv("HURACAN_MAX_COINS", "2")
    before = _open(4, 10, day, tmp_path)
    before.runner.prepare(previous, DayResult(day=previous))
    before.runner.run_day(previous, coins, DayResult(day=previous))
    # the day: 3 eligible, so one coin trains its cold start beside two warm ones (the models
    # step starts cold starts first and must give each result back to its coin), one capped
    monkeypatch.setenv("HURACAN_MAX_COINS", "3")
    ready = _open(4, 10, day, tmp_path)
    ready.coins = ready.runner.prepare(day, DayResult(day=day))
    universe = ParquetIOManager(base_dir=str(tmp_path / "storage")).read_window(
        dg.AssetKey("coin_universe"), [day]
    )
    capped = universe.loc[~universe["eligible"], "coin"].tolist()
    assert len(capped) == 1 and len(ready.coins) == 4
    trained_before = ModelIOManager(base_dir=str(tmp_path / "storage"))
    cold = [
        c
        for c in universe.loc[universe["eligible"], "coin"]
        if trained_before.read_partition(dg.AssetKey("models"), str(coin_day_key(previous, c))).status
        != "trained"
    ]
    assert len(cold) == 1
    # each side from the same stored state, into its own storage
    shutil.copytree(tmp_path / "storage", tmp_path / "loop_storage", symlinks=True)
    ready.runner.run_day(day, ready.coins, DayResult(day=day))
    plain_loop(
        day, ready.coins, ready.settings, ready.market, tmp_path / "loop_storage", tmp_path / "loop_exports"
    )
    stored = _day_files(tmp_path / "storage", day)
    # every per-coin asset of every coin, the capped coin's scores and consensus among them
    assert {path.split("/")[0] for path in stored} == set(PER_COIN_DAILY)
    assert sum(path.endswith(".cbm") for path in stored) >= 3 * 4  # 3 coins' 1h models, 4 engines
    for asset in ("models", "scores", "consensus"):
        assert any(path.startswith(f"{asset}/date={day}/symbol={capped[0]}") for path in stored)
    models = ModelIOManager(base_dir=str(tmp_path / "storage"))
    kinds = {
        c: models.read_partition(dg.AssetKey("models"), str(coin_day_key(day, c))).record_kind
        for c in ready.coins
    }
    assert kinds[cold[0]] and all(not kinds[c] for c in ready.coins if c != cold[0]), kinds
    loop_stored = _day_files(tmp_path / "loop_storage", day)
    assert sorted(stored) == sorted(loop_stored)
    assert [path for path in stored if stored[path] != loop_stored[path]] == []

    exported = [p for p in (tmp_path / "exports" / day).rglob("*") if p.is_file()]
    assert len(exported) >= 13  # the manifest and the day's reports, the heat-map among them
    assert (tmp_path / "loop_exports" / day / "reports" / "data_integrity_heatmap.png").is_file()
    assert differing_exports(day, tmp_path / "exports", tmp_path / "loop_exports") == []
    # and the comparison sees a difference when there is one
    (tmp_path / "loop_exports" / day / "reports" / "ranking.json").write_text("{}")
    assert differing_exports(day, tmp_path / "exports", tmp_path / "loop_exports") == ["reports/ranking.json"]
