"""Looks for secrets where they must never be: process logs, everything in Redis, ``status`` output.

The secrets are read from the settings the way a process gets them (its ``NOTIFIER_*`` environment),
independently of the production code's own idea of what a secret is.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import redis

# What the integration tests' secret scan looked at, summed over pytest-xdist workers by tests/conftest.py.
SCANNED = {"tests": 0, "logs": 0, "redis values": 0, "statuses": 0}
_URL_VARIABLES = ("NOTIFIER_WEBHOOK_URL", "NOTIFIER_SLACK_WEBHOOK_URL", "NOTIFIER_DISCORD_WEBHOOK_URL")
_LIST_VARIABLES = ("NOTIFIER_WEBHOOKS", "NOTIFIER_SLACK_WEBHOOKS", "NOTIFIER_DISCORD_WEBHOOKS",
                   "NOTIFIER_APPRISE_SINKS")


def _apprise_secrets(url: str) -> set[str]:
    """An Apprise URL, and its path and query parts (tokens live there: ``mmost://host/TOKEN``)."""
    found = {url}
    parts = urlsplit(url)
    found |= {p for p in parts.path.split("/") if p}
    if parts.password:
        found.add(parts.password)
    return found


def _url_secrets(url: str) -> set[str]:
    found = {url}
    parts = urlsplit(url)
    if len(parts.path) >= 6:
        found.add(parts.path)  # a webhook URL's path is where its token lives
    if parts.password:
        found |= {parts.password, unquote(parts.password)}
    return found


def _webhook_secret(value: str) -> set[str]:
    found = {value} if value else set()
    for part in value.replace(",", " ").split():
        found |= {part, part.removeprefix("whsec_")}
    return found


def secrets_in_env(env: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for name in ("NOTIFIER_USEAPI_TOKEN", "NOTIFIER_REDIS_PASSWORD", "NOTIFIER_REDIS_SENTINEL_PASSWORD",
                 "NOTIFIER_METRICS_TOKEN"):
        if env.get(name):
            found.add(env[name])
    found |= _webhook_secret(env.get("NOTIFIER_WEBHOOK_SECRET", ""))
    for name in _URL_VARIABLES:
        if env.get(name):
            found |= _url_secrets(env[name])
    for name in _LIST_VARIABLES:
        for sink in json.loads(env.get(name) or "[]"):
            found |= _url_secrets(sink["url"]) | _webhook_secret(sink.get("secret", ""))
            found |= set((sink.get("headers") or {}).values())
            if name == "NOTIFIER_APPRISE_SINKS":
                found |= _apprise_secrets(sink["url"])
    found |= set(json.loads(env.get("NOTIFIER_WEBHOOK_HEADERS") or "{}").values())
    for url in (env.get("NOTIFIER_APPRISE_URLS") or "").replace(",", " ").split():
        found |= _apprise_secrets(url)
    if env.get("NOTIFIER_SLACK_BOT_TOKEN"):
        found.add(env["NOTIFIER_SLACK_BOT_TOKEN"])
    found |= {bot["token"] for bot in json.loads(env.get("NOTIFIER_SLACK_BOTS") or "[]")}
    redis_url = env.get("NOTIFIER_REDIS_URL", "")
    if urlsplit(redis_url).password:
        found |= {urlsplit(redis_url).password or "", unquote(urlsplit(redis_url).password or "")}
    return {secret for secret in found if len(secret) >= 6}


def _plain(value: bytes) -> str:
    if value[:1] == b"x":  # RQ keeps a job's data zlib-compressed
        with contextlib.suppress(zlib.error):
            value = zlib.decompress(value)
    return value.decode(errors="replace")


def redis_texts(client: redis.Redis) -> Iterator[tuple[str, str]]:
    """Every value in every key of this Redis, as text (compressed job data unpacked)."""
    for raw_key in client.scan_iter(count=500):
        key = raw_key.decode(errors="replace")
        kind = client.type(raw_key).decode()
        values: Iterable[Any]
        if kind == "string":
            values = [client.get(raw_key) or b""]
        elif kind == "hash":
            values = [item for pair in client.hgetall(raw_key).items() for item in pair]  # type: ignore[union-attr]
        elif kind == "list":
            values = client.lrange(raw_key, 0, -1)  # type: ignore[assignment]
        elif kind == "set":
            values = client.smembers(raw_key)  # type: ignore[assignment]
        elif kind == "zset":
            values = client.zrange(raw_key, 0, -1)  # type: ignore[assignment]
        elif kind == "stream":
            values = [json.dumps({k.decode(): v.decode(errors="replace") for k, v in fields.items()})
                      .encode() for _, fields in client.xrange(raw_key)]  # type: ignore[union-attr]
        else:
            continue
        yield f"redis {key}", key
        for value in values:
            yield f"redis {key}", _plain(value)


def find_leaks(texts: Iterable[tuple[str, str]], secrets: set[str]) -> list[str]:
    """Where each secret shows up (named by its first characters only)."""
    found = []
    for where, text in texts:
        for secret in secrets:
            if secret in text:
                found.append(f"{where}: {secret[:4]}… found")
    return found
