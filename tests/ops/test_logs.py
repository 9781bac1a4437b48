import io
import logging
from collections.abc import Iterator

import pytest

from notifier.ops.logs import MASK, RedactSecrets, rq_log_level, setup_logging
from tests.conftest import SECRET


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    rq_levels = {name: logging.getLogger(name).level for name in ("rq", "rq.worker", "rq.job", "rq.scheduler")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, rq_level in rq_levels.items():
        logging.getLogger(name).setLevel(rq_level)


def test_every_secret_is_masked_in_messages_and_tracebacks(make_settings) -> None:
    settings = make_settings(webhook_url="https://hooks.example/T0KEN", webhook_secret=SECRET)
    stream = io.StringIO()
    setup_logging(settings, stream)
    log = logging.getLogger("some.library")
    token = settings.useapi_token.get_secret_value()
    log.warning("calling %s with %s", "https://hooks.example/T0KEN", token)
    try:
        raise ValueError(f"bad secret {SECRET}")
    except ValueError:
        log.exception("failed")
    out = stream.getvalue()
    assert "T0KEN" not in out and token not in out and SECRET not in out
    assert out.count(MASK) == 3


def test_short_strings_are_not_treated_as_secrets() -> None:
    assert RedactSecrets(["ab", "abcdef"]).redact("ab abcdef") == f"ab {MASK}"


def test_httpx_request_logs_are_silenced(make_settings) -> None:
    setup_logging(make_settings(), io.StringIO())
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


def test_json_lines_carry_the_event_fields_and_no_secret(make_settings) -> None:
    import json

    settings = make_settings(log_format="json", slack_webhook_url="https://hooks.slack.com/services/T/B/SECRETX")
    stream = io.StringIO()
    setup_logging(settings, stream)
    logging.getLogger("notifier.delivery.single").info(
        "delivered to https://hooks.slack.com/services/T/B/SECRETX",
        extra={"event_id": "evt_1", "event_type": "image.completed", "image_id": "img:1", "account": "a@x.com",
               "sink": "slack"},
    )
    line = json.loads(stream.getvalue())
    assert line["level"] == "INFO" and line["time"].endswith("Z")
    assert (line["event_type"], line["image_id"], line["account"], line["sink"]) == (
        "image.completed", "img:1", "a@x.com", "slack")
    assert "SECRETX" not in stream.getvalue()


@pytest.mark.parametrize(("level", "rq_level"), [("INFO", "WARNING"), ("WARNING", "WARNING"), ("ERROR", "ERROR"),
                                                 ("DEBUG", "DEBUG")])
def test_rq_chatter_only_at_debug(make_settings, level: str, rq_level: str) -> None:
    """RQ's per-job lines ("Job OK", "result discarded immediately", …) stay out of an INFO log."""
    settings = make_settings(log_level=level)
    setup_logging(settings, io.StringIO())
    assert rq_log_level(settings) == rq_level
    for name in ("rq.worker", "rq.queue", "rq.scheduler", "rq.registry", "rq.job"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.getLevelName(rq_level), name
    assert logging.getLogger("notifier.delivery.single").getEffectiveLevel() == logging.getLevelName(level)
