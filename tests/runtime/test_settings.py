import base64

import pytest

from notifier.errors import ConfigError
from notifier.runtime.settings import Settings, load_settings
from tests.conftest import SECRET


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(f"NOTIFIER_{key}", value)
    return load_settings(_env_file=None)


def test_defaults_work_without_any_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch)
    assert settings.useapi_base_url == "https://api.useapi.net/v2/pixverse"
    assert settings.accounts == []
    assert settings.all_webhooks() == []
    with pytest.raises(ConfigError, match="NOTIFIER_USEAPI_TOKEN is not set"):
        settings.require_token()


def test_accounts_and_webhooks_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch,
        ACCOUNTS=" a@x.com, b@y.org ,",
        POLL_INTERVAL_S="1.5",
        WEBHOOK_URL="https://one.example/hook",
        WEBHOOK_SECRET=SECRET,
        WEBHOOKS=f'[{{"url": "https://two.example/h", "secret": "{SECRET}", "events": ["image.completed"]}}]',
    )
    assert settings.accounts == ["a@x.com", "b@y.org"]
    assert settings.poll_interval_s == 1.5
    hooks = settings.all_webhooks()
    assert [h.events for h in hooks] == [["image.completed"], None]
    assert hooks[1].name == "webhook"
    assert hooks[0].name.startswith("webhook_")
    assert "two.example" not in hooks[0].name


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"USEAPI_BASE_URL": "ftp://x"}, "NOTIFIER_USEAPI_BASE_URL"),
        ({"WEBHOOK_URL": "not a url", "WEBHOOK_SECRET": SECRET}, "NOTIFIER_WEBHOOK_URL"),
        ({"WEBHOOK_URL": "https://x.example/h", "WEBHOOK_SECRET": "whsec_%%%"}, "NOTIFIER_WEBHOOK_SECRET"),
        ({"WEBHOOK_URL": "https://x.example/h", "WEBHOOK_SECRET": "hunter2hunter2"}, "NOTIFIER_WEBHOOK_SECRET"),
        ({"WEBHOOK_URL": "https://x.example/h"}, "NOTIFIER_WEBHOOK_SECRET must be set together"),
        ({"WEBHOOKS": "[{'url': 1}"}, "NOTIFIER_WEBHOOKS: is not valid JSON"),
        ({"WEBHOOKS": '[{"url": "https://x.example", "secret": "' + SECRET + '", "events": ["image.done"]}]'},
         "unknown event type 'image.done'"),
        ({"WEBHOOKS": '[{"url": "https://x.example", "secret": "whsec_c2hvcnQ="}]'}, "NOTIFIER_WEBHOOKS[0][secret]"),
        ({"POLL_INTERVAL_S": "fast"}, "NOTIFIER_POLL_INTERVAL_S"),
        ({"PAGE_SIZE": "500"}, "NOTIFIER_PAGE_SIZE"),
        ({"ACCOUNTS": "not-an-email"}, "NOTIFIER_ACCOUNTS"),
        ({"REDIS_URL": "http://localhost"}, "NOTIFIER_REDIS_URL"),
        ({"USEAPI_TOKEN": "user:1 oops"}, "NOTIFIER_USEAPI_TOKEN"),
        ({"DELIVERY_JOB_TIMEOUT_S": "5"}, "NOTIFIER_DELIVERY_JOB_TIMEOUT_S"),
        # Found by tests/runtime/test_fuzz_settings.py (issue #10): a RecursionError escaped, and two values
        # passed that failed later (a token no HTTP header takes, a host no request can reach).
        ({"DISCORD_WEBHOOKS": "[" * 5000}, "NOTIFIER_DISCORD_WEBHOOKS: is JSON nested too deeply"),
        ({"USEAPI_TOKEN": "user:1-tokén"}, "NOTIFIER_USEAPI_TOKEN: must be printable ASCII"),
        ({"DISCORD_WEBHOOK_URL": "https://hooks.example\ue000/x"}, "NOTIFIER_DISCORD_WEBHOOK_URL: is not a valid URL"),
    ],
)
def test_bad_values_name_the_setting_and_never_echo_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, **env)
    message = str(caught.value)
    assert names in message
    for value in env.values():
        if len(value) > 6:
            assert value not in message


def test_secret_must_decode_to_enough_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    short = "whsec_" + base64.b64encode(b"x" * 16).decode()
    with pytest.raises(ConfigError, match="24 to 64 bytes"):
        load(monkeypatch, WEBHOOK_URL="https://x.example/h", WEBHOOK_SECRET=short)


def test_duplicate_webhooks_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = f'{{"url": "https://x.example/h", "secret": "{SECRET}"}}'
    with pytest.raises(ConfigError, match="same name"):
        load(monkeypatch, WEBHOOKS=f"[{hook}, {hook}]")


def test_an_unknown_field_of_a_sink_is_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    # A key may be anything the user pasted, a URL with its token included.
    hook = f'{{"url": "https://x.example/h", "secret": "{SECRET}", "https://hooks.slack.com/T/B/S3CRET": 1}}'
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, WEBHOOKS=f"[{hook}]")
    assert "NOTIFIER_WEBHOOKS[0]: has a field it does not know" in str(caught.value)
    assert "S3CRET" not in str(caught.value)
