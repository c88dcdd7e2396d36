"""Dropbox credentials, read only from the environment, and kept out of every message.

Two ways to authenticate, both from environment variables:

- preferred: ``HURACAN_DROPBOX_APP_KEY`` + ``HURACAN_DROPBOX_APP_SECRET`` +
  ``HURACAN_DROPBOX_REFRESH_TOKEN`` (the SDK fetches short-lived access tokens itself);
- or a long-lived ``HURACAN_DROPBOX_ACCESS_TOKEN``.

When both are set the refresh token wins. No value ever appears in a repr, an error, or a log
line: errors name the variables, never their values. Imports neither dagster nor the SDK.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ACCESS_TOKEN_ENV = "HURACAN_DROPBOX_ACCESS_TOKEN"
APP_KEY_ENV = "HURACAN_DROPBOX_APP_KEY"
APP_SECRET_ENV = "HURACAN_DROPBOX_APP_SECRET"
REFRESH_TOKEN_ENV = "HURACAN_DROPBOX_REFRESH_TOKEN"

# DropboxCredentials field -> the environment variable it comes from.
CREDENTIAL_ENV_VARS: dict[str, str] = {
    "access_token": ACCESS_TOKEN_ENV,
    "app_key": APP_KEY_ENV,
    "app_secret": APP_SECRET_ENV,
    "refresh_token": REFRESH_TOKEN_ENV,
}

REDACTED = "***"


class DropboxCredentialsError(ValueError):
    """The environment does not hold a usable set of Dropbox credentials (names the variables only)."""


def _missing_message() -> str:
    return (
        f"no usable Dropbox credentials: set {APP_KEY_ENV}, {APP_SECRET_ENV} and {REFRESH_TOKEN_ENV} "
        f"(preferred), or {ACCESS_TOKEN_ENV}"
    )


@dataclass(frozen=True, repr=False)
class DropboxCredentials:
    """One set of Dropbox credentials. Its repr shows only which flow it uses."""

    access_token: str | None = None
    app_key: str | None = None
    app_secret: str | None = None
    refresh_token: str | None = None

    def __post_init__(self) -> None:
        if self.refresh_token:
            if not self.app_key:
                raise DropboxCredentialsError(f"{REFRESH_TOKEN_ENV} is set but {APP_KEY_ENV} is not")
        elif not self.access_token:
            raise DropboxCredentialsError(_missing_message())

    def __repr__(self) -> str:
        return f"DropboxCredentials(flow={self.flow!r})"

    @property
    def flow(self) -> str:
        """``"refresh_token"`` or ``"access_token"``: how the SDK will authenticate."""
        return "refresh_token" if self.refresh_token else "access_token"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DropboxCredentials:
        """Read the credentials from ``environ`` (default: ``os.environ``); empty values count as unset."""
        env = os.environ if environ is None else environ
        values = {field: (env.get(name) or None) for field, name in CREDENTIAL_ENV_VARS.items()}
        return cls(**values)

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``dropbox.Dropbox``: the refresh-token flow when possible."""
        if self.refresh_token:
            kwargs = {"oauth2_refresh_token": self.refresh_token, "app_key": str(self.app_key)}
            if self.app_secret:
                kwargs["app_secret"] = self.app_secret
            return kwargs
        return {"oauth2_access_token": str(self.access_token)}

    def env_vars(self) -> tuple[str, ...]:
        """The variables of the flow in use, as errors name them (never their values)."""
        if self.flow == "refresh_token":
            return tuple(
                n
                for n in (APP_KEY_ENV, APP_SECRET_ENV, REFRESH_TOKEN_ENV)
                if n != APP_SECRET_ENV or self.app_secret
            )
        return (ACCESS_TOKEN_ENV,)

    def secret_values(self) -> tuple[str, ...]:
        """Every credential value that is set (for redaction)."""
        return tuple(v for v in (self.access_token, self.app_key, self.app_secret, self.refresh_token) if v)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret value replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
