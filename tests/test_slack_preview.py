"""The README's Slack picture is rendered from the real messages, by a renderer that knows every block."""

import importlib.util
import json

from notifier.delivery.sinks import slack
from notifier.runtime.sink_config import SlackConfig
from tests.conftest import ROOT
from tests.delivery.sinks.hostile import hostile_events

spec = importlib.util.spec_from_file_location("render_slack_preview", ROOT / "scripts" / "render_slack_preview.py")
assert spec is not None and spec.loader is not None
preview = importlib.util.module_from_spec(spec)
spec.loader.exec_module(preview)


def test_renderer_knows_every_block_notifier_sends() -> None:
    config = SlackConfig(url="https://hooks.slack.com/services/x")
    messages = []
    for event in hostile_events():
        request = slack.build_request(event, config, 0)
        messages += [json.loads(body) for body in (request.body, request.fallback_body) if body]
    page = preview.render_page(messages)
    assert page.count('class="msg"') == len(messages)
    assert "<!channel>" not in page  # user text stays escaped in the mock too


def test_readme_shows_the_committed_picture() -> None:
    assert "](docs/slack-preview.png)" in (ROOT / "README.md").read_text()
    png = (ROOT / "docs" / "slack-preview.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert preview.render_page(preview.sample_messages()).count("Image completed") == 1
