"""The code location loads: every job resolves, the graph is the one of DESIGN.md."""

import subprocess
import sys

import dagster as dg

from huracan_assets.definitions import build_definitions
from huracan_assets.partitions import build_partitions
from huracan_assets_tests.conftest import small_settings

# the universe feeds the day's models, scores and reports; whether a coin traded on a day comes
# from the market of that day (validated_bars asks the market), so there is no universe -> bars edge
EDGES = {
    ("coin_universe", "models"),
    ("coin_universe", "scores"),
    ("coin_universe", "champions"),
    ("validated_bars", "features"),
    ("features", "labels"),
    ("features", "models"),
    ("labels", "models"),
    ("models", "scores"),
    ("scores", "consensus"),
    ("consensus", "champions"),
    ("champions", "dropbox_export"),
    ("validated_bars", "data_integrity_report"),
}


def test_definitions_resolve_every_job_and_the_graph_has_the_design_edges():
    defs = build_definitions(small_settings())
    for name in ("universe_job", "daily_coins_job", "history_job", "daily_reports_job"):
        assert defs.resolve_job_def(name).name == name
    graph = defs.resolve_asset_graph()
    edges = {
        (parent.to_user_string(), key.to_user_string())
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
    }
    assert edges >= EDGES
    assert ("coin_universe", "validated_bars") not in edges
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "validated_bars_schema",
        "features_schema",
        "labels_schema",
        "validated_bars_source_quality",
        "validated_bars_raw_schema",
    } <= checks


def test_the_day_sorts_first_so_a_day_of_coins_is_one_contiguous_range():
    partitions = build_partitions(small_settings())
    assert partitions.coin_days.partitions_defs[0].name == "date"
    assert [d.name for d in partitions.coin_days.partitions_defs] == sorted(
        d.name for d in partitions.coin_days.partitions_defs
    )
    assert isinstance(partitions.coin_days.partitions_defs[1].partitions_def, dg.DynamicPartitionsDefinition)


def test_per_coin_assets_run_many_partitions_in_one_run():
    defs = build_definitions(small_settings())
    graph = defs.resolve_asset_graph()
    for name in ("validated_bars", "features", "labels", "models", "scores", "consensus"):
        policy = graph.get(dg.AssetKey(name)).backfill_policy
        assert policy is not None and policy.max_partitions_per_run is None, name


def test_the_module_loads_as_dagster_would_load_it():
    code = "from huracan_assets.definitions import defs; print(len(list(defs.resolve_asset_graph().get_all_asset_keys())))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "10"


def test_core_steps_and_hamilton_never_import_dagster():
    code = (
        "import sys, huracan_assets.core.training, huracan_assets.core.champions, huracan_assets.core.consensus, "
        "huracan_assets.core.features, huracan_assets.hamilton, huracan_assets.market_sim, "
        "huracan_assets.stores.files, huracan_assets.steps.bars, huracan_assets.steps.features, "
        "huracan_assets.steps.labels, huracan_assets.steps.models, huracan_assets.steps.scores, "
        "huracan_assets.steps.consensus, huracan_assets.steps.champions, huracan_assets.steps.export; "
        "print('dagster' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
