"""The one plan: coins to add and the missing history, in as few range runs as possible."""

from huracan_assets.core.day_plan import plan_day

DAYS = ["2025-11-17", "2025-11-18", "2025-11-19"]
WINDOWS = {"validated_bars": DAYS, "features": DAYS[1:], "labels": DAYS[2:]}


def _done(coins: list[str]) -> dict[str, set[tuple[str, str]]]:
    return {asset: {(d, c) for d in days for c in coins} for asset, days in WINDOWS.items()}


def test_fresh_instance_is_one_block_per_asset_over_every_coin():
    plan = plan_day("2025-11-20", eligible=["BTC", "ETH"], known_coins=[], windows=WINDOWS, materialized={})
    assert plan.coins_to_add == ("BTC", "ETH") and plan.coins == ("BTC", "ETH")
    assert [(b.asset, b.days, b.coins) for b in plan.history] == [
        ("validated_bars", tuple(DAYS), ("BTC", "ETH")),
        ("features", tuple(DAYS[1:]), ("BTC", "ETH")),
        ("labels", tuple(DAYS[2:]), ("BTC", "ETH")),
    ]
    assert sum(b.partitions for b in plan.history) == 2 * (3 + 2 + 1)


def test_new_coins_are_appended_and_get_their_whole_window_in_one_block():
    plan = plan_day(
        "2025-11-20",
        eligible=["ETH", "ADA", "BTC", "TRX"],
        known_coins=["BTC", "ETH", "SOL"],
        windows=WINDOWS,
        materialized=_done(["BTC", "ETH", "SOL"]),
    )
    assert plan.coins_to_add == ("ADA", "TRX")
    assert plan.coins == ("BTC", "ETH", "SOL", "ADA", "TRX")
    assert {b.coins for b in plan.history} == {("ADA", "TRX")}
    assert plan.missing_history()["validated_bars"] == [(d, c) for d in DAYS for c in ("ADA", "TRX")]


def test_a_gap_in_one_coin_is_its_own_block_and_nothing_else_is_rebuilt():
    done = _done(["BTC", "ETH"])
    done["features"].discard(("2025-11-18", "ETH"))
    plan = plan_day(
        "2025-11-20", eligible=["BTC"], known_coins=["BTC", "ETH"], windows=WINDOWS, materialized=done
    )
    assert plan.coins_to_add == ()
    assert [(b.asset, b.days, b.coins) for b in plan.history] == [("features", ("2025-11-18",), ("ETH",))]


def test_nothing_to_do_when_everything_is_there():
    plan = plan_day(
        "2025-11-20", eligible=["BTC"], known_coins=["BTC"], windows=WINDOWS, materialized=_done(["BTC"])
    )
    assert plan.history == () and plan.coins_to_add == ()
