"""One upstream token and its accounts: an entry of ``NOTIFIER_SOURCES``.

The token is a secret: never in a repr, a log line or an error. A source is named by its ``name``,
which every event of its accounts carries (``source``) and sinks can filter on.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from notifier.runtime.checks import check_upstream_url
from notifier.state.keys import DEFAULT_SOURCE

SOURCE_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,40}$")
DEFAULT_BASE_URL = "https://api.useapi.net/v2/pixverse"


def check_token(token: str) -> str:
    if any(c.isspace() for c in token):
        raise ValueError("must not contain spaces or line breaks")
    if not (token.isascii() and token.isprintable()):
        # It goes in an HTTP header, which takes ASCII only: refused here, not by the first request.
        raise ValueError("must be printable ASCII characters")
    return token


def check_account_emails(value: list[str]) -> list[str]:
    for email in value:
        if not isinstance(email, str) or "@" not in email or any(c.isspace() for c in email):
            raise ValueError("must be a list of account emails")
    return value


class SourceConfig(BaseModel):
    """A useapi.net token, where to reach the API with it, and which of its accounts to poll."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """Carried by every event of its accounts (``source``); 1-40 characters of A-Z, a-z, 0-9 and _."""
    token: SecretStr = Field(repr=False)
    """useapi.net API token (a secret)."""
    base_url: str = DEFAULT_BASE_URL
    """Base URL of the PixVerse API for this token."""
    accounts: list[str] = Field(default_factory=list)
    """Account emails to poll; empty = discover them via ``GET /accounts``."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SOURCE_NAME_RE.match(value):
            raise ValueError("name must be 1-40 characters of A-Z, a-z, 0-9 and _")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("token must not be empty")
        check_token(value.get_secret_value())
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return check_upstream_url(value)

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        return check_account_emails(value)

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_SOURCE
