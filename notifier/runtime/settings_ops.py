"""Settings of the operator's side: the HTTP API and console, and the attempt log behind them."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from notifier.runtime.settings_base import SettingsGroup

MIN_API_TOKEN_LENGTH = 16
SCOPES = ("read", "write")


def parse_api_tokens(value: str) -> list[tuple[str, str]]:
    """``read:<token>`` / ``write:<token>`` entries (comma- or space-separated) as (scope, token) pairs.

    A token without a scope is a write token (write includes read). Errors never quote a token.
    """
    pairs = []
    for number, entry in enumerate(value.replace(",", " ").split(), start=1):
        scope, sep, token = entry.partition(":")
        if not sep or scope not in SCOPES:
            scope, token = "write", entry
        if len(token) < MIN_API_TOKEN_LENGTH:
            raise ValueError(f"token {number} is shorter than {MIN_API_TOKEN_LENGTH} characters "
                             f"(the form is read:<token> or write:<token>)")
        pairs.append((scope, token))
    return pairs


class OpsSettings(SettingsGroup):
    """The HTTP API, the console and the attempt log."""

    api_port: int = Field(8081, ge=0, le=65535)
    """Port of the HTTP API and web console (on ``NOTIFIER_HTTP_HOST``), served by ``notifier run`` and
    ``notifier poller``; 0 turns it off."""
    api_token: SecretStr = SecretStr("")
    """Bearer tokens of the API: ``read:<token>`` and ``write:<token>`` (write may also replay, recover and
    test-send), comma- or space-separated. Empty: no auth, and then the API serves only on a loopback host."""
    attempt_log: bool = True
    """Record every delivery attempt (what the console, the API and ``notifier events`` show); false: none."""
    attempt_log_ttl_s: int = Field(7 * 86400, ge=60, le=90 * 86400)
    """How long each delivery attempt, and the payload of its event, are kept in the attempt log."""
    attempt_log_max_events: int = Field(100_000, ge=100, le=10_000_000)
    """Most events the attempt log keeps (the oldest go first)."""

    @field_validator("api_token")
    @classmethod
    def _api_token(cls, value: SecretStr) -> SecretStr:
        parse_api_tokens(value.get_secret_value())
        return value
