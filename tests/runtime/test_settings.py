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
    assert settings.media == ("images", "videos") and settings.stall_after_s == 900


def test_media_chooses_what_is_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch, MEDIA=" Videos ").media == ("videos",)
    assert load(monkeypatch, MEDIA="videos,images,videos").media == ("videos", "images")


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
        ({"USEAPI_BASE_URL": "http://api.useapi.net/v2/pixverse"}, "NOTIFIER_USEAPI_BASE_URL: must be an https://"),
        ({"USEAPI_BASE_URL": "http://10.0.0.8:8765/v2"}, "NOTIFIER_USEAPI_BASE_URL: must be an https://"),
        ({"USEAPI_BASE_URL": "https://user:pw0rd-secret@api.example/v2"}, "NOTIFIER_USEAPI_BASE_URL"),
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
        ({"MEDIA": "images,gifs-secret"}, "NOTIFIER_MEDIA"),
        ({"MEDIA": " , "}, "NOTIFIER_MEDIA"),
        ({"STALL_AFTER_S": "0"}, "NOTIFIER_STALL_AFTER_S"),
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


def test_egress_lists_are_cidrs_split_on_commas_or_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, EGRESS_DENY="10.0.0.0/8, 192.168.1.7  fd00::/8", EGRESS_ALLOW="10.1.2.3",
                    EGRESS_STRICT="true")
    assert settings.egress_deny == ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]
    assert settings.egress_allow == ["10.1.2.3/32"] and settings.egress_strict is True
    assert load(monkeypatch, EGRESS_DENY="", EGRESS_ALLOW="", EGRESS_STRICT="false").egress_deny == []
    assert load(monkeypatch, EGRESS_DENY='["10.0.0.0/8"]').egress_deny == ["10.0.0.0/8"]


@pytest.mark.parametrize("variable", ["EGRESS_DENY", "EGRESS_ALLOW"])
def test_a_bad_network_names_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, **{variable: "10.0.0.0/8,internal.secret-host.example"})
    assert f"NOTIFIER_{variable}: entry 2 is not an IP network" in str(caught.value)
    assert "secret-host" not in str(caught.value)


@pytest.mark.parametrize("url", ["https://api.useapi.net/v2/pixverse", "http://127.0.0.1:8765/v2/pixverse",
                                 "http://localhost:8765", "http://[::1]:8765/v2", "http://127.3.2.1/"])
def test_the_token_goes_over_tls_or_to_loopback_only(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert load(monkeypatch, USEAPI_BASE_URL=url).useapi_base_url == url.rstrip("/")


def test_the_single_webhook_secret_may_hold_two_while_rotating(monkeypatch: pytest.MonkeyPatch) -> None:
    from notifier.runtime.sink_config import new_secret

    new = new_secret()
    settings = load(monkeypatch, WEBHOOK_URL="https://x.example/h", WEBHOOK_SECRET=f"{SECRET} {new}")
    assert settings.all_webhooks()[0].secrets() == [SECRET, new]
    with pytest.raises(ConfigError, match=r"NOTIFIER_WEBHOOK_SECRET: secret 2 of 2 must start with 'whsec_'"):
        load(monkeypatch, WEBHOOK_URL="https://x.example/h", WEBHOOK_SECRET=f"{SECRET} hunter2hunter2")


def test_redis_passwords_stay_out_of_repr_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, REDIS_URL="rediss://notifier:pa55-in-url@redis.example:6380/0",
                    REDIS_PASSWORD="pa55-in-setting")
    assert "pa55" not in repr(settings) and "pa55" not in str(settings)
    with pytest.raises(ConfigError, match="NOTIFIER_REDIS_PASSWORD needs NOTIFIER_REDIS_URL") as caught:
        load(monkeypatch, REDIS_URL="", REDIS_PASSWORD="pa55-alone")
    assert "pa55" not in str(caught.value)
    with pytest.raises(ConfigError, match="NOTIFIER_REDIS_URL") as bad:
        load(monkeypatch, REDIS_URL="redis://:pa55-bad-port@host:port/0", REDIS_PASSWORD="")
    assert "pa55" not in str(bad.value)
