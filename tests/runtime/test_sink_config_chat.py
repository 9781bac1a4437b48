"""Apprise and Slack bot settings: checked at start-up, never echoed, their secrets masked."""

from __future__ import annotations

import json

import pytest

from notifier.errors import ConfigError
from notifier.runtime.redact import Redactor, secrets_of
from notifier.runtime.settings import load_settings
from notifier.runtime.sink_config_chat import AppriseConfig, apprise_secrets

TGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"


def test_one_apprise_url_is_the_sink_named_apprise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_APPRISE_URLS", TGRAM)
    monkeypatch.setenv("NOTIFIER_APPRISE_MAX_ATTEMPTS", "4")
    [sink] = load_settings(_env_file=None).all_sinks()
    assert (sink.kind, sink.name, sink.max_attempts) == ("apprise", "apprise", 4)  # type: ignore[attr-defined]
    # Chat's default: what ended (images and videos) and what is stalled.
    assert sink.default_events == ("image.completed", "image.moderated", "image.failed", "video.completed",
                                   "video.moderated", "video.failed", "image.stalled", "video.stalled")


def test_several_urls_are_one_sink_each_with_stable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_APPRISE_URLS", f"{TGRAM}, json://127.0.0.1:8080/hook mmost://chat.example/t0ken1")
    names = [s.name for s in load_settings(_env_file=None).all_sinks()]
    monkeypatch.setenv("NOTIFIER_APPRISE_URLS", f"mmost://chat.example/t0ken1 json://127.0.0.1:8080/hook {TGRAM}")
    assert sorted(names) == sorted(s.name for s in load_settings(_env_file=None).all_sinks())
    assert len(set(names)) == 3 and all(name.startswith("apprise_") for name in names)


@pytest.mark.parametrize(("value", "says"), [
    ("nosuchservice://s3cr3t-value", "unknown service"),
    ("tgram://", "not a URL Apprise can use"),
    ("s3cr3t-value", "not an Apprise URL"),
])
def test_a_url_apprise_cannot_use_stops_start_up_without_being_shown(monkeypatch: pytest.MonkeyPatch, value: str,
                                                                      says: str) -> None:
    monkeypatch.setenv("NOTIFIER_APPRISE_SINKS", json.dumps([{"url": value, "name": "team"}]))
    with pytest.raises(ConfigError, match=says) as caught:
        load_settings(_env_file=None)
    assert "s3cr3t" not in str(caught.value) and "NOTIFIER_APPRISE_SINKS[0]" in str(caught.value)


def test_every_part_of_an_apprise_url_that_could_be_a_token_is_masked() -> None:
    redactor = Redactor(apprise_secrets(TGRAM))
    line = ("POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage "
            "chat 987654321")
    assert "AAHdq" not in redactor.redact(line) and "987654321" not in redactor.redact(line)
    assert AppriseConfig(url=TGRAM).where() == "tgram://…"
    assert "AAHdq" not in repr(AppriseConfig(url=TGRAM))


def test_a_slack_bot_needs_its_token_and_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SLACK_BOT_TOKEN", "xoxb-1-s3cr3t")
    with pytest.raises(ConfigError, match="NOTIFIER_SLACK_BOT_TOKEN and NOTIFIER_SLACK_CHANNEL must be set together"):
        load_settings(_env_file=None)
    monkeypatch.setenv("NOTIFIER_SLACK_CHANNEL", "#general")
    with pytest.raises(ConfigError, match="NOTIFIER_SLACK_CHANNEL: must be a channel id"):
        load_settings(_env_file=None)
    monkeypatch.setenv("NOTIFIER_SLACK_CHANNEL", "C0123ABCD")
    monkeypatch.setenv("NOTIFIER_SLACK_API_URL", "http://127.0.0.1:9/api")
    settings = load_settings(_env_file=None)
    [bot] = settings.all_sinks()
    assert (bot.kind, bot.name, bot.url) == ("slack_bot", "slack_bot", "http://127.0.0.1:9/api")
    assert bot.accepts("image.generating", {})  # every status goes to the thread by default
    assert "xoxb-1-s3cr3t" in secrets_of(settings) and "http://127.0.0.1:9/api" not in secrets_of(settings)


def test_chat_templates_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SLACK_BOTS", json.dumps([{"token": "xoxb-2", "channel": "C0123ABCD",
                                                           "text_template": "{{ prompt | nosuchfilter }}"}]))
    with pytest.raises(ConfigError, match=r"NOTIFIER_SLACK_BOTS\[0\]: text_template is not a valid template"):
        load_settings(_env_file=None)
