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


def test_every_secret_of_a_rotation_is_masked(make_settings) -> None:
    from notifier.runtime.sink_config import new_secret

    new = new_secret()
    settings = make_settings(webhook_url="https://hooks.example/T0KEN", webhook_secret=f"{SECRET} {new}")
    stream = io.StringIO()
    setup_logging(settings, stream)
    logging.getLogger("x").warning("old %s new %s raw %s", SECRET, new, new.removeprefix("whsec_"))
    assert SECRET not in stream.getvalue() and new.removeprefix("whsec_") not in stream.getvalue()


def test_redis_passwords_are_masked(make_settings) -> None:
    settings = make_settings(redis_url="redis://notifier:p%40ss-in-url@127.0.0.1:6379/0",
                             redis_password="pa55-in-setting")
    stream = io.StringIO()
    setup_logging(settings, stream)
    logging.getLogger("redis").error("auth failed for %s / %s / %s", "p%40ss-in-url", "p@ss-in-url", "pa55-in-setting")
    assert "ss-in-url" not in stream.getvalue() and "pa55" not in stream.getvalue()


def test_strings_from_outside_cannot_forge_a_line_or_hide_text(make_settings) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(), stream)
    forged = "img\n2026-01-01 00:00:00,000 ERROR notifier: forged\r\x1b[2K\u202e"
    log = logging.getLogger("notifier.polling.poller")
    log.warning("image %s of %s", forged, "a@x.com")
    log.warning(f"an f-string with {forged}")
    try:
        raise ValueError(forged)
    except ValueError:
        log.exception("failed: %s", forged)
    lines = stream.getvalue().splitlines()
    assert not [line for line in lines if "forged" in line and line.startswith("2026-01-01")]
    assert lines[0].endswith("image img\\n2026-01-01 00:00:00,000 ERROR notifier: forged\\r\\x1b[2K\\u202e of a@x.com")
    assert "\x1b" not in stream.getvalue() and "\u202e" not in stream.getvalue()
    # A traceback keeps its lines, each indented so none passes for a record.
    assert all(line.startswith("  | ") for line in lines[3:])
