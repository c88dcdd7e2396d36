from datetime import timedelta

import pytest

from huracan_assets.config import SettingsError, load_settings, parse_duration


def test_defaults_match_the_documented_values():
    s = load_settings()
    assert s.lookback_days == 150
    assert s.horizons == ["1h", "4h", "1d"]
    assert s.max_coins is None
    assert s.bars_per_day == 24
    assert s.horizon_bars == {"1h": 1, "4h": 4, "1d": 24}
    # 1m latency on 1h bars: the fill is the next bar's close, never the signal's own close
    assert s.fill_delay_bars == 1


def test_environment_overrides_yaml_and_nested_keys(monkeypatch):
    monkeypatch.setenv("HURACAN_LOOKBACK_DAYS", "42")
    monkeypatch.setenv("HURACAN_FEES__BINANCE_SPOT__TAKER_BPS", "7.5")
    s = load_settings()
    assert s.lookback_days == 42
    assert s.fee.taker_bps == 7.5
    assert s.fee.maker_bps == 10.0  # untouched sibling key keeps the YAML value


def test_explicit_overrides_beat_the_environment(monkeypatch):
    monkeypatch.setenv("HURACAN_LOOKBACK_DAYS", "42")
    s = load_settings(lookback_days=30, training={"iterations": 11})
    assert s.lookback_days == 30
    assert s.training.iterations == 11
    assert s.training.depth == 4  # merged, not replaced


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"lookback_days": "many"}, "lookback_days"),
        ({"max_spread_bps": -1}, "max_spread_bps"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"horizons": ["90m"]}, "horizons"),
        ({"risk_preset": "yolo"}, "risk_preset"),
        ({"training": {"depth": 50}}, "training.depth"),
    ],
)
def test_a_bad_value_fails_at_load_naming_the_key(overrides, key):
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_settings(**overrides)


def test_bad_environment_value_names_the_key(monkeypatch):
    monkeypatch.setenv("HURACAN_MIN_LIQUIDITY_GBP", "lots")
    with pytest.raises(SettingsError, match="min_liquidity_gbp"):
        load_settings()


def test_durations_and_derived_bar_counts():
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("1d") == timedelta(days=1)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("soon")
    s = load_settings(timeframe="5m")
    assert s.bars_per_day == 288
    assert s.horizon_bars == {"1h": 12, "4h": 48, "1d": 288}
    assert s.fill_delay_bars == 1
    assert s.label_lookback_days == 2


def test_publisher_defaults_keep_the_local_folder():
    publisher = load_settings().publisher
    assert (publisher.kind, publisher.export_root, publisher.dropbox_root) == ("local", "exports", "/huracan")
    assert publisher.chunk_size_bytes == 8 * 1024 * 1024 and publisher.retain_versions is None


def test_publisher_can_be_switched_to_dropbox_from_the_environment(monkeypatch):
    monkeypatch.setenv("HURACAN_PUBLISHER__KIND", "dropbox")
    monkeypatch.setenv("HURACAN_PUBLISHER__DROPBOX_ROOT", "/team/huracan")
    monkeypatch.setenv("HURACAN_PUBLISHER__CHUNK_SIZE_BYTES", "4194304")
    publisher = load_settings().publisher
    assert (publisher.kind, publisher.dropbox_root, publisher.chunk_size_bytes) == (
        "dropbox",
        "/team/huracan",
        4194304,
    )


@pytest.mark.parametrize(
    ("publisher", "key"),
    [
        ({"kind": "ftp"}, "publisher.kind"),
        ({"dropbox_root": "huracan"}, "publisher.dropbox_root"),
        ({"dropbox_root": "/huracan/../other"}, "publisher.dropbox_root"),
        ({"dropbox_root": "/.."}, "publisher.dropbox_root"),
        ({"chunk_size_bytes": 0}, "publisher.chunk_size_bytes"),
        ({"chunk_size_bytes": 200 * 1024 * 1024}, "publisher.chunk_size_bytes"),
        ({"retain_versions": 0}, "publisher.retain_versions"),
    ],
)
def test_bad_publisher_settings_name_the_key(publisher, key):
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_settings(publisher=publisher)


def _daily(tmp_path, **environment: str):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HURACAN_")}
    env.update(environment, DAGSTER_HOME=str(tmp_path / "home"))
    # a date the clock has not closed: the command stops right after reading its settings
    return subprocess.run(
        [sys.executable, "-m", "huracan_assets.cli", "daily", "--date", "2099-01-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_list_setting_that_is_not_json_is_one_line_naming_the_variable(tmp_path):
    done = _daily(tmp_path, HURACAN_HORIZONS="7x")
    assert done.returncode == 2
    assert done.stderr.startswith("huracan: invalid Huracan settings: HURACAN_HORIZONS could not be read")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_an_unknown_variable_is_named_with_the_nearest_setting(tmp_path):
    done = _daily(
        tmp_path, HURACAN_LOOKBAK_DAYS="3", HURACAN_TRAINING__ITERATOINS="5", HURACAN_DROPBOX_APP_KEY="x"
    )
    lines = done.stderr.strip().splitlines()
    warning = (
        "huracan: warning: HURACAN_LOOKBAK_DAYS names no Huracan setting and is ignored; "
        "did you mean HURACAN_LOOKBACK_DAYS?"
    )
    assert lines.count(warning) == 1, lines
    assert not any("DROPBOX" in line for line in lines)  # credentials are variables, not settings
    # an unknown key under a known setting is no warning: it fails, naming the key
    assert lines[-1] == (
        "huracan: invalid Huracan settings: training.iteratoins: Extra inputs are not permitted (got '5')"
    )


def test_base_yaml_that_does_not_parse_names_the_file(tmp_path, monkeypatch):
    from huracan_assets.config import settings as module

    broken = tmp_path / "base.yaml"
    broken.write_text("lookback_days: [60\n")
    monkeypatch.setitem(module.HuracanSettings.model_config, "yaml_file", broken)
    monkeypatch.setattr(module, "BASE_YAML", broken)
    with pytest.raises(SettingsError, match=f"{broken} is not valid YAML"):
        load_settings()
