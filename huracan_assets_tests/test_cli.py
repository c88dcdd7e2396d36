"""`huracan daily` flags: the publisher is picked on the command line; Dropbox needs credentials."""

from pathlib import Path

import pytest

from huracan_assets.cli import build_parser, daily_settings, main

CREDENTIAL_VARS = (
    "HURACAN_DROPBOX_ACCESS_TOKEN",
    "HURACAN_DROPBOX_APP_KEY",
    "HURACAN_DROPBOX_APP_SECRET",
    "HURACAN_DROPBOX_REFRESH_TOKEN",
)


def _settings(*flags: str):
    return daily_settings(build_parser().parse_args(["daily", "--date", "2025-11-20", *flags]))


def test_local_stays_the_default_and_a_relative_export_root_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = _settings("--export-root", "out")
    assert settings.publisher.kind == "local"
    assert settings.publisher.export_root == str(tmp_path / "out")


def test_publisher_flag_and_dropbox_root_pick_dropbox(monkeypatch):
    monkeypatch.setenv("HURACAN_DROPBOX_ACCESS_TOKEN", "hush-token")
    settings = _settings("--publisher", "dropbox", "--dropbox-root", "/team/huracan")
    assert (settings.publisher.kind, settings.publisher.dropbox_root) == ("dropbox", "/team/huracan")
    assert "hush-token" not in settings.model_dump_json()  # credentials are never settings


def test_dropbox_without_credentials_stops_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)

    assert main(["daily", "--date", "2025-11-20", "--publisher", "dropbox"]) == 2

    err = capsys.readouterr().err
    assert "publisher.kind=dropbox" in err and "HURACAN_DROPBOX_REFRESH_TOKEN" in err
    assert not (Path(tmp_path) / "dagster_home").exists()


def test_a_bad_dropbox_root_names_the_setting(monkeypatch, capsys):
    monkeypatch.setenv("HURACAN_DROPBOX_ACCESS_TOKEN", "hush-token")
    assert main(["daily", "--publisher", "dropbox", "--dropbox-root", "huracan"]) == 2
    assert "publisher.dropbox_root" in capsys.readouterr().err


def test_unknown_publisher_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as excinfo:
        build_parser().parse_args(["daily", "--publisher", "ftp"])
    assert excinfo.value.code == 2
    assert "invalid choice: 'ftp'" in capsys.readouterr().err


def test_a_day_before_history_start_is_refused_naming_the_setting(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["daily", "--date", "2024-12-31"]) == 2
    err = capsys.readouterr().err
    assert "before history_start 2025-01-01" in err and "HURACAN_HISTORY_START" in err
    assert not (tmp_path / "home").exists(), "refused before any Dagster work"


def test_a_day_the_clock_has_not_closed_is_refused_naming_the_clock(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HURACAN_CLOCK", "2025-11-21T06:00:00Z")
    assert main(["daily", "--date", "2025-11-21"]) == 2
    err = capsys.readouterr().err
    assert "HURACAN_CLOCK=2025-11-21T06:00:00Z" in err and "latest closed day: 2025-11-20" in err
    assert not (tmp_path / "home").exists()


def test_an_export_root_that_cannot_be_written_stops_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HURACAN_CLOCK", "2025-11-21T06:00:00Z")
    blocker = tmp_path / "exports"
    blocker.write_text("a file where the export folder should be")
    monkeypatch.setenv("HURACAN_PUBLISHER__EXPORT_ROOT", str(blocker / "daily"))
    assert main(["daily", "--date", "2025-11-20"]) == 2
    err = capsys.readouterr().err
    assert f"publisher.export_root {blocker / 'daily'}" in err and "not a writable folder" in err
    assert not (tmp_path / "home").exists(), "refused before any Dagster work"


def test_flags_travel_to_the_code_location_as_environment_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = _settings("--coins", "9", "--lookback-days", "12", "--export-root", "out")
    import os

    assert os.environ["HURACAN_SIMULATOR__N_COINS"] == "9" and os.environ["HURACAN_LOOKBACK_DAYS"] == "12"
    assert os.environ["HURACAN_PUBLISHER__EXPORT_ROOT"] == str(tmp_path / "out")
    assert (settings.simulator.n_coins, settings.lookback_days) == (9, 12)
