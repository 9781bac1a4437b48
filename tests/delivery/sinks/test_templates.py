"""Templates: escaped for their target, sandboxed, checked for every event type the code knows."""

from __future__ import annotations

import json

import pytest

from notifier.delivery.sinks import discord, slack, templates
from notifier.delivery.sinks.samples import sample_event
from notifier.errors import DeliveryError
from notifier.runtime.sink_config import DiscordConfig, SlackConfig
from notifier.state.events import EVENT_TYPES
from tests.delivery.sinks.hostile import event

HOSTILE = '<!channel> & **bold** _it_ `code` </td><script>"quote"'


def test_each_target_escapes_what_it_must() -> None:
    ev = event(1, prompt=HOSTILE)
    assert templates.render("slack", "*{{ prompt }}*", ev) == (
        '*&lt;!channel&gt; &amp; **bold** _it_ `code` &lt;/td&gt;&lt;script&gt;"quote"*')
    assert templates.render("discord", "{{ prompt }}", ev) == (
        r'\<!channel\> & \*\*bold\*\* \_it\_ \`code\` \</td\>\<script\>"quote"')
    assert templates.render("html", "<p>{{ prompt }}</p>", ev) == (
        "<p>&lt;!channel&gt; &amp; **bold** _it_ `code` &lt;/td&gt;&lt;script&gt;&#34;quote&#34;</p>")
    assert templates.render("plain", "{{ prompt }}", ev) == HOSTILE
    payload = json.loads(templates.render("json", '{"p": {{ prompt }}, "n": {{ image.seed }}, "d": {{ data }}}', ev))
    assert payload["p"] == HOSTILE and payload["n"] == 123456 and payload["d"]["status"] == "COMPLETED"


def test_safe_is_printed_as_it_is_and_missing_values_print_nothing() -> None:
    ev = event(8)
    assert templates.render("slack", "{{ '<@U1>'|safe }} {{ url }}{{ item.nothing }}", ev) == "<@U1> "
    assert templates.render("json", '{"u": {{ url }}}', ev) == '{"u": null}'


def test_defaults_are_todays_messages() -> None:
    ev = event(1)
    assert templates.render("plain", templates.DEFAULT_TITLE, ev) == "✅ Image completed"
    assert templates.render("discord", templates.DEFAULT_TEXT, ev) == "a lighthouse at dusk, oil painting"
    assert slack.build_message(ev) == slack.build_message(ev, title_template=templates.DEFAULT_TITLE)


def test_a_slack_text_template_is_escaped_mrkdwn() -> None:
    config = SlackConfig(url="https://hooks.slack.com/x", title_template="{{ account }}: {{ title }}",
                         text_template="*{{ status }}* {{ prompt }}")
    message = json.loads(slack.build_request(event(1, prompt="<!here> hi"), config, 0).body)
    assert message["blocks"][0]["text"]["text"] == "artist@example.com: Image completed"
    assert message["blocks"][1]["text"] == {"type": "mrkdwn", "text": "*COMPLETED* &lt;!here&gt; hi"}
    assert "<!here>" not in json.dumps(message)


def test_discord_shows_a_prompt_as_typed() -> None:
    config = DiscordConfig(url="https://discord.com/api/webhooks/1/x")
    embed = json.loads(discord.build_request(event(1, prompt="a **bold** cat"), config, 0).body)["embeds"][0]
    assert embed["description"] == r"a \*\*bold\*\* cat"


@pytest.mark.parametrize(("source", "target", "says"), [
    ("{% if %}", "plain", "line 1"),
    ("{{ titel }}", "plain", "unknown names titel"),
    ('{"text": "{{ title }}"}', "json", "valid JSON for a sample"),
    ("{{ ''.__class__.__mro__ }}", "plain", "SecurityError"),
    ("{{ prompt.nope() }}", "plain", "fails for a sample"),
])
def test_check_says_what_is_wrong(source: str, target: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        templates.check(source, target)


def test_check_renders_every_type_in_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    # Types added to the code's catalogue (videos, stalled, expired) are checked without a word here.
    monkeypatch.setattr(templates, "EVENT_TYPES", EVENT_TYPES | {"video.stalled", "video.expired"})
    only_for_stalled = "{{ 1 // (0 if type == 'video.stalled' else 1) }}"
    with pytest.raises(ValueError, match=r"sample video\.stalled event \(ZeroDivisionError"):
        templates.check(only_for_stalled, "plain")
    rendered = templates.render("json", '{"id": {{ item_id }}, "kind": {{ item_kind }}}',
                                sample_event("video.expired"))
    assert json.loads(rendered) == {"id": "user:1234-pixverse:artist@example.com-video:11223344", "kind": "video"}


def test_every_known_type_has_a_sample_with_its_words() -> None:
    for event_type in EVENT_TYPES:
        context = templates.context(sample_event(event_type))
        assert context["type"] == event_type and context["title"] and context["item_id"]


def test_a_template_that_fails_on_real_data_fails_that_delivery_for_good() -> None:
    with pytest.raises(DeliveryError, match=r"template failed for this event \(TypeError") as caught:
        templates.render("plain", "{{ image.seed + 1 }}", event(1, seed="abc"))
    assert not caught.value.retryable
