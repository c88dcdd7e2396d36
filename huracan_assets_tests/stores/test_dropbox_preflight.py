"""`huracan daily --publisher dropbox` checks the credentials and the Dropbox root before any
compute (issue 12, item 6): one line naming the variables or the setting, never a value. The
real SDK against the Dropbox stand-in."""

from pathlib import Path

import pytest

from huracan_assets.cli import main
from huracan_assets.core.publishing import ExportStoreError
from huracan_assets_tests.dropbox_server import WRITE_ROUTES


@pytest.fixture
def cli_env(dropbox_account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("HURACAN_PUBLISHER__DROPBOX_CA_CERTS", dropbox_account.ca_certs)
    monkeypatch.setenv("HURACAN_PUBLISHER__MAX_ATTEMPTS", "1")
    return dropbox_account


def test_valid_credentials_pass_the_check_and_write_nothing(dropbox_account):
    server = dropbox_account.server
    dropbox_account.store().check_access()
    assert "/2/check/user" in server.routes_called()
    assert not set(server.routes_called()) & set(WRITE_ROUTES)


def test_a_refused_refresh_token_stops_the_day_before_any_work(cli_env, tmp_path, monkeypatch, capsys):
    wrong = "SECRET-wrong-refresh-token-0123456789"
    monkeypatch.setenv("HURACAN_DROPBOX_REFRESH_TOKEN", wrong)

    assert main(["daily", "--date", "2025-11-20", "--publisher", "dropbox"]) == 2

    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "publisher.kind=dropbox" in err and "authentication failed" in err
    assert "HURACAN_DROPBOX_REFRESH_TOKEN" in err and "HURACAN_DROPBOX_APP_KEY" in err
    for secret in (wrong, cli_env.app_secret, cli_env.refresh_token):
        assert secret not in err
    assert not (tmp_path / "dagster_home").exists()  # nothing was computed


def test_a_revoked_access_token_names_its_variable(cli_env, monkeypatch):
    for name in ("HURACAN_DROPBOX_APP_KEY", "HURACAN_DROPBOX_APP_SECRET", "HURACAN_DROPBOX_REFRESH_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HURACAN_DROPBOX_ACCESS_TOKEN", "SECRET-revoked-token")
    with pytest.raises(ExportStoreError) as error:
        cli_env.store().check_access()
    assert "[HURACAN_DROPBOX_ACCESS_TOKEN]" in str(error.value) and "SECRET-revoked" not in str(error.value)


def test_a_dropbox_root_that_is_a_file_is_refused_naming_the_setting(cli_env, capsys):
    cli_env.server.put_file("/team/huracan", b"not a folder")
    assert (
        main(["daily", "--date", "2025-11-20", "--publisher", "dropbox", "--dropbox-root", "/team/huracan"])
        == 2
    )
    err = capsys.readouterr().err
    assert "publisher.dropbox_root /team/huracan" in err and "is a file" in err
    # a root not there yet is fine: the first publish creates it
    cli_env.store("/team/new-root").check_access()


def test_a_run_launched_as_the_daemon_or_the_ui_does_stops_at_the_days_first_step(
    cli_env, tmp_path, monkeypatch
):
    """The daemon's and the UI's runs do not pass through ``huracan daily``: the day's first step
    (``coin_universe``) checks the publisher, fails in one line without retrying, and stores
    nothing."""
    import dagster as dg

    from huracan_assets.automation.instance import INSTANCE_OVERRIDES
    from huracan_assets.config import load_settings
    from huracan_assets.definitions import build_definitions

    wrong = "SECRET-wrong-refresh-token-9876543210"
    monkeypatch.setenv("HURACAN_DROPBOX_REFRESH_TOKEN", wrong)
    settings = load_settings(
        publisher={"kind": "dropbox", "dropbox_ca_certs": cli_env.ca_certs, "max_attempts": 1}
    )
    defs = build_definitions(settings, storage_dir=str(tmp_path / "storage"))
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"), overrides=INSTANCE_OVERRIDES)
    result = defs.resolve_job_def("universe_job").execute_in_process(
        instance=instance, partition_key="2025-11-20", raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message.strip()
    assert "\n" not in message, message
    assert "coin_universe[2025-11-20]: publisher.kind=dropbox:" in message
    assert "authentication failed" in message and "HURACAN_DROPBOX_REFRESH_TOKEN" in message
    for secret in (wrong, cli_env.app_secret, cli_env.refresh_token):
        assert secret not in message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert not (tmp_path / "storage" / "coin_universe").exists()
