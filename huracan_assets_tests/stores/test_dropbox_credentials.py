import pytest

from huracan_assets.stores.dropbox_credentials import (
    ACCESS_TOKEN_ENV,
    APP_KEY_ENV,
    APP_SECRET_ENV,
    REFRESH_TOKEN_ENV,
    DropboxCredentials,
    DropboxCredentialsError,
    redact,
)

REFRESH = {APP_KEY_ENV: "key-1", APP_SECRET_ENV: "hush-app", REFRESH_TOKEN_ENV: "hush-refresh"}


def test_refresh_token_flow_is_preferred_when_both_are_set():
    credentials = DropboxCredentials.from_env({**REFRESH, ACCESS_TOKEN_ENV: "hush-access"})
    assert credentials.flow == "refresh_token"
    assert credentials.client_kwargs() == {
        "oauth2_refresh_token": "hush-refresh",
        "app_key": "key-1",
        "app_secret": "hush-app",
    }


def test_access_token_alone_is_enough():
    credentials = DropboxCredentials.from_env({ACCESS_TOKEN_ENV: "hush-access"})
    assert credentials.client_kwargs() == {"oauth2_access_token": "hush-access"}


@pytest.mark.parametrize(
    "environ, missing",
    [
        ({}, REFRESH_TOKEN_ENV),
        ({ACCESS_TOKEN_ENV: ""}, ACCESS_TOKEN_ENV),
        ({REFRESH_TOKEN_ENV: "hush-refresh"}, APP_KEY_ENV),
    ],
)
def test_incomplete_environment_names_the_variables_never_the_values(environ, missing):
    with pytest.raises(DropboxCredentialsError) as excinfo:
        DropboxCredentials.from_env(environ)
    assert missing in str(excinfo.value)
    assert "hush" not in str(excinfo.value)


def test_repr_and_str_show_no_secret():
    credentials = DropboxCredentials.from_env({**REFRESH, ACCESS_TOKEN_ENV: "hush-access"})
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        assert "hush" not in text and "key-1" not in text
        assert "refresh_token" in text


def test_redact_replaces_every_secret_longest_first():
    text = "token hush-refresh and hush-refresh-extended, key hush-app"
    assert redact(text, ["hush-refresh", "hush-refresh-extended", "hush-app", ""]) == (
        "token *** and ***, key ***"
    )
