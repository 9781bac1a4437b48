import pytest

from notifier.errors import ConfigError
from notifier.runtime.settings import load_settings
from notifier.runtime.sink_config import DiscordConfig, SlackConfig, WebhookConfig
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import event

COMPLETED, GENERATING = event(1), event(9)


def test_defaults_webhooks_get_everything_chat_gets_final_events() -> None:
    hook = WebhookConfig(url="https://h.example/x", secret=SECRET)
    chat = [SlackConfig(url="https://h.example/s"), DiscordConfig(url="https://h.example/d")]
    assert hook.accepts(GENERATING.type, GENERATING.data)
    for sink in chat:
        assert sink.accepts(COMPLETED.type, COMPLETED.data)
        assert sink.accepts("image.moderated", {}) and sink.accepts("image.failed", {})
        assert not sink.accepts(GENERATING.type, GENERATING.data)
    assert SlackConfig(url="https://h.example/s", events=["*"]).accepts(GENERATING.type, GENERATING.data)


def test_filters_by_account_and_model() -> None:
    mine = SlackConfig(url="https://h.example/s", accounts=["artist@example.com"], models=["qwen-image"])
    assert mine.accepts(COMPLETED.type, COMPLETED.data)
    other_model = event(1, model="kling")
    assert not mine.accepts(other_model.type, other_model.data)
    theirs = SlackConfig(url="https://h.example/s", accounts=["someone@else.com"])
    assert not theirs.accepts(COMPLETED.type, COMPLETED.data)


def test_names_never_show_the_url() -> None:
    sink = SlackConfig(url="https://hooks.slack.com/services/T/B/S3CRET")
    assert sink.name.startswith("slack_") and "S3CRET" not in sink.name
    assert "S3CRET" not in repr(sink)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SLACK_WEBHOOKS", '[{"url": "https://h.example/s", "events": ["image.finished"]}]',
         "NOTIFIER_SLACK_WEBHOOKS[0][events]: Value error, unknown event type 'image.finished'"),
        ("DISCORD_WEBHOOKS", '[{"url": "https://h.example/d", "accounts": ["nobody"]}]',
         "account filter 'nobody' is not an email"),
        ("SLACK_WEBHOOKS", '[{"url": "https://h.example/s", "models": [" "]}]', "model filter values"),
        ("SLACK_WEBHOOK_URL", "hooks.slack.com/x", "NOTIFIER_SLACK_WEBHOOK_URL"),
        ("DISCORD_WEBHOOKS", '{"url": "https://h.example/d"}', "must be a JSON list"),
    ],
)
def test_bad_filters_stop_start_up_naming_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"NOTIFIER_{variable}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert message.replace("Value error, ", "") in str(caught.value)


def test_all_sinks_in_one_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/a")
    monkeypatch.setenv("NOTIFIER_DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/b")
    monkeypatch.setenv("NOTIFIER_WEBHOOK_URL", "https://h.example/w")
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRET", SECRET)
    sinks = load_settings(_env_file=None).all_sinks()
    assert [(s.kind, s.name) for s in sinks] == [("webhook", "webhook"), ("slack", "slack"), ("discord", "discord")]


def test_status_shows_a_redacted_form() -> None:
    from notifier.delivery.sinks import Sink

    sink = Sink(SlackConfig(url="https://hooks.slack.com/services/T0/B0/S3CRET", name="team"))
    assert sink.redacted() == "slack team (https://hooks.slack.com/…)"


def test_filters_by_source() -> None:
    hook = WebhookConfig(url="https://h.example/x", secret=SECRET, sources=["team_b"])
    assert hook.accepts("image.completed", {"email": "a@x.com", "source": "team_b"})
    assert not hook.accepts("image.completed", {"email": "a@x.com", "source": "default"})
    assert not hook.accepts("image.completed", {"email": "a@x.com"})  # an event from before sources: default
    assert WebhookConfig(url="https://h.example/x", secret=SECRET, sources=["default"]).accepts(
        "image.completed", {"email": "a@x.com"})
    with pytest.raises(ValueError, match="source names"):
        WebhookConfig(url="https://h.example/x", secret=SECRET, sources=["team b"])


def test_chat_sinks_get_stalled_work_and_videos_by_default_and_media_filters() -> None:
    chat = SlackConfig(url="https://h.example/s")
    for event_type in ("image.stalled", "video.stalled", "video.completed", "video.failed"):
        assert chat.accepts(event_type, {})
    assert not chat.accepts("video.generating", {}) and not chat.accepts("image.expired", {})
    images_only = WebhookConfig(url="https://h.example/x", secret=SECRET, media=["images"])
    assert images_only.accepts("image.queued", {}) and not images_only.accepts("video.queued", {})
    by_model = WebhookConfig(url="https://h.example/x", secret=SECRET, models=["v5"])
    assert by_model.accepts("video.completed", {"video": {"model": "v5"}})
    with pytest.raises(ValueError, match="'images' or 'videos'"):
        WebhookConfig(url="https://h.example/x", secret=SECRET, media=["gifs"])
