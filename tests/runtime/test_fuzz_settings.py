"""Property test (fuzzing) of the settings: any values of the NOTIFIER_* variables give either settings that
work or a ConfigError of one line that names a variable set and never echoes a value. Issue #10."""

from __future__ import annotations

import json
import os
import re
from typing import Any
from unittest import mock

import httpx
import yarl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.delivery.sinks import build_sinks
from notifier.errors import ConfigError
from notifier.runtime.setting_errors import ENV_PREFIX
from notifier.runtime.settings import Settings, load_settings
from notifier.upstream.client import UpstreamClient
from tests.conftest import SECRET
from tests.support.strategies import json_values

FILTER_ENTRY = re.compile(r"""(unknown event type|account filter) ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
NAMES = sorted(name.upper() for name in Settings.model_fields)
CANARY = "Qz7canaryVw3"
"""Put inside values: a message that holds it echoed (part of) a value."""

# What an environment can hold: any character but NUL, and of the surrogates only those Python's
# surrogateescape makes of bytes that are not UTF-8.
env_chars = st.characters(codec=None, categories=None, exclude_characters="\x00").filter(
    lambda c: not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF
)
env_text = st.text(env_chars, max_size=30)
numbers = st.one_of(
    st.integers(-10, 10**6).map(str), st.floats(allow_nan=True).map(str),
    st.sampled_from(["1e999", "-0", "0x10", " 5 ", "5_0", "٣", "NaN", "inf", "9" * 5000, "1.5", "0"]),
)
urls = st.builds(lambda scheme, host, path: f"{scheme}{host}{path}",
                 st.sampled_from(["https://", "http://", "ftp://", "redis://", "unix://", ""]),
                 st.sampled_from(["hooks.example", "[::1]", "[broken", "a b", "\udcff", "é.example", "", "h:99999"])
                 | env_text, env_text)
secrets = st.sampled_from([SECRET, "whsec_", "whsec_%%%", "whsec_" + "A" * 400, f"whsec_{CANARY}"]) | env_text
sink_fields = {"url": urls, "secret": secrets, "name": env_text | st.just("webhook"),
               "events": json_values | st.just(["image.completed"]), "accounts": json_values, "models": json_values}


def fits_the_environment(value: str) -> bool:
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def with_canary(text: str, where: int) -> str:
    return text[:where] + CANARY + text[where:]


sink_lists = st.lists(
    st.fixed_dictionaries({}, optional=sink_fields) | st.dictionaries(env_text, json_values, max_size=2)
    | json_values,
    max_size=3,
).map(lambda sinks: json.dumps(sinks, ensure_ascii=False))
values = st.one_of(
    env_text, numbers, urls, secrets, sink_lists,
    st.integers(1, 50_000).map(lambda n: "[" * n),  # nested too deep for the JSON decoder
    st.builds(with_canary, env_text, st.integers(0, 30)),
    st.builds(with_canary, sink_lists, st.integers(0, 60)),
).filter(fits_the_environment)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.dictionaries(st.sampled_from(NAMES), values, min_size=1, max_size=4))
def test_fuzz_settings_from_the_environment(env: dict[str, str]) -> None:
    variables = {f"{ENV_PREFIX}{name}": value for name, value in env.items()}
    with mock.patch.dict(os.environ, variables):
        try:
            loaded = load_settings(_env_file=None)
        except ConfigError as exc:
            message = str(exc)
            assert any(variable in message for variable in variables), (message, sorted(variables))
            # Values with the canary somewhere are generated often: echoing any part that holds it shows.
            # An event type or account in a sink's filter is quoted on purpose (to find the typo), and only those.
            unquoted = FILTER_ENTRY.sub(r"\1 …", message)
            assert "\n" not in message and CANARY not in unquoted, message
            return
    assert_usable(loaded)


def assert_usable(loaded: Settings) -> None:
    """Valid settings start: the upstream client can be made, every sink URL can be requested."""
    UpstreamClient(loaded.useapi_base_url, loaded.useapi_token.get_secret_value(), timeout_s=1).close()
    httpx.URL(loaded.useapi_base_url)
    for sink in build_sinks(loaded).values():
        httpx.URL(sink.config.url)
        yarl.URL(sink.config.url)  # batch deliveries go through aiohttp
        sink.redacted().encode("utf-8")
    texts: list[Any] = [*loaded.accounts, loaded.key_prefix, loaded.queue_name, loaded.redis_url]
    for text in texts:
        text.encode("utf-8")  # Redis keys and URLs
