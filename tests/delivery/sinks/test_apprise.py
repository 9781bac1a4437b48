"""The Apprise sink against real endpoints on loopback: Apprise's json:// and form://, and a fake Mattermost."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from notifier.delivery.egress import EgressPolicy
from notifier.delivery.sinks import Sink, apprise
from notifier.errors import DeliveryError
from notifier.ops.logs import setup_logging
from notifier.runtime.settings import Settings
from notifier.runtime.sink_config_chat import AppriseConfig
from tests.delivery.sinks.hostile import event
from tests.support.chat_fakes import Endpoint

OPEN = EgressPolicy.build()
TOKEN = "t0kenyobjmukpaw3r3urc5h6i369"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.stop()


def test_the_message_is_rendered_for_its_format() -> None:
    ev = event(1, prompt="<b>lighthouse</b> & sea")
    html = json.loads(apprise.build_request(ev, AppriseConfig(url="json://127.0.0.1/x", format="html"), 0).body)
    assert html["title"] == "✅ Image completed" and html["type"] == "success" and html["format"] == "html"
    assert "<p>&lt;b&gt;lighthouse&lt;/b&gt; &amp; sea</p>" in html["body"]
    text = json.loads(apprise.build_request(event(8), AppriseConfig(url="json://127.0.0.1/x"), 0).body)
    assert text["type"] == "failure" and "could not generate" in text["body"]


def test_json_and_form_reach_a_local_endpoint(endpoint: Endpoint) -> None:
    for scheme in ("json", "form"):
        sink = Sink(AppriseConfig(url=f"{scheme}://127.0.0.1:{endpoint.port}/hooks/{TOKEN}"), OPEN)
        response = sink.send(None, sink.build_request(event(1), 0), 5)  # type: ignore[arg-type]
        assert response.status_code == 200
    as_json, as_form = endpoint.wait_for(2)
    assert as_json.path == as_form.path == f"/hooks/{TOKEN}"
    assert as_json.json()["title"] == "✅ Image completed"
    assert as_json.json()["message"].startswith("a lighthouse at dusk, oil painting\nModel: qwen-image")
    assert as_form.form()["title"] == "✅ Image completed" and as_form.form()["type"] == "success"


def test_a_fake_mattermost_gets_its_incoming_webhook(endpoint: Endpoint) -> None:
    sink = Sink(AppriseConfig(url=f"mmost://127.0.0.1:{endpoint.port}/{TOKEN}", format="markdown"), OPEN)
    sink.send(None, sink.build_request(event(1, prompt="a *starry* night"), 0), 5)  # type: ignore[arg-type]
    [hit] = endpoint.wait_for(1)
    assert hit.path == f"/hooks/{TOKEN}"
    text = hit.json()["text"]
    assert "✅ Image completed" in text and r"a \*starry\* night" in text


def test_a_failure_is_retried_a_few_times_and_names_no_token(endpoint: Endpoint,
                                                              make_settings: Callable[..., Settings]) -> None:
    endpoint.statuses.append(500)
    config = AppriseConfig(url=f"json://127.0.0.1:{endpoint.port}/hooks/{TOKEN}", max_attempts=2)
    sink = Sink(config, OPEN)
    stream = io.StringIO()
    setup_logging(make_settings(log_level="DEBUG"), stream)
    logging.getLogger("notifier.test").debug("logging works")
    with pytest.raises(DeliveryError, match=r"JSON notification failed: .*error=500") as caught:
        sink.send(None, sink.build_request(event(1), 0), 5)  # type: ignore[arg-type]
    assert caught.value.retryable and caught.value.max_attempts == 2
    assert TOKEN not in str(caught.value)
    # Apprise's own lines (at DEBUG: the URL, the payload) and urllib3's never reach the notifier's logs.
    logged = stream.getvalue()
    assert "logging works" in logged and " apprise" not in logged and TOKEN not in logged, logged


def test_the_egress_policy_applies_to_apprise(endpoint: Endpoint) -> None:
    strict = EgressPolicy.build(strict=True)
    for url in (f"json://127.0.0.1:{endpoint.port}/x", f"form://localhost:{endpoint.port}/x"):
        sink = Sink(AppriseConfig(url=url), strict)
        refused = r"refused by the egress policy: 127\.0\.0\.1 is in 127\.0\.0\.0/8"
        with pytest.raises(DeliveryError, match=refused) as c:
            sink.send(None, sink.build_request(event(1), 0), 5)  # type: ignore[arg-type]
        assert not c.value.retryable
    assert endpoint.hits == []
    metadata = Sink(AppriseConfig(url="json://169.254.169.254/latest/meta-data"), OPEN)
    with pytest.raises(DeliveryError, match=r"169\.254\.0\.0/16"):
        metadata.send(None, metadata.build_request(event(1), 0), 5)  # type: ignore[arg-type]
    # Outside a guarded send, name resolution is the machine's own.
    import socket

    assert socket.getaddrinfo("127.0.0.1", 80)


def test_environment_proxies_are_not_used(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "")
    sink = Sink(AppriseConfig(url=f"json://127.0.0.1:{endpoint.port}/x"), OPEN)
    assert sink.send(None, sink.build_request(event(1), 0), 5).status_code == 200  # type: ignore[arg-type]
