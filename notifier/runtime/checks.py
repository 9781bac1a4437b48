"""Checks of single setting values that are about security: address lists, the upstream URL, Redis URLs.

Like every settings check, an error names what is wrong and never repeats the value (it may be a secret).
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from notifier.runtime.sentinel_url import is_sentinel_url, parse_sentinel_url
from notifier.runtime.sink_config import check_http_url

_LIST_SPLIT = re.compile(r"[\s,]+")


def split_list(value: Any) -> Any:
    """A comma- or space-separated string (or a JSON list) as a list; other values unchanged."""
    if isinstance(value, str):
        if value.strip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("is not a valid JSON list") from None
        return [part for part in _LIST_SPLIT.split(value) if part]
    return value


def check_cidrs(values: list[str]) -> list[str]:
    """Each entry an IPv4 or IPv6 network (``10.0.0.0/8``) or address; returned normalised."""
    found = []
    for index, value in enumerate(values, start=1):
        try:
            found.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"entry {index} is not an IP network in CIDR form (like 10.0.0.0/8 or fd00::/8)") from None
    return found


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_upstream_url(value: str) -> str:
    """https:// only: the API token travels in every request. Plain http:// only to a loopback host."""
    value = check_http_url(value).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" and not is_loopback_host(parts.hostname):
        raise ValueError("must be an https:// URL (http:// only for a loopback host): the API token is sent to it")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials (the token is NOTIFIER_USEAPI_TOKEN)")
    return value


def check_redis_url(value: str) -> str:
    if not value:
        return value
    if is_sentinel_url(value):
        parse_sentinel_url(value)
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must be a redis://, rediss://, unix:// or redis+sentinel:// URL")
    return value


def redis_url_secrets(url: str) -> list[str]:
    """The passwords a Redis URL holds (as written and decoded), for masking: the server's, and with
    ``redis+sentinel://`` the sentinels' (``sentinel_password=``)."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
        found += re.findall(r"(?:^|&)(?:sentinel_)?password=([^&]*)", parts.query)
    except ValueError:
        return []
    return [s for v in found if v for s in {v, unquote(v), unquote_plus(v)}]


def json_setting(value: Any, shape: type, what: str) -> Any:
    """A JSON setting's text decoded and checked to be a ``shape`` (empty text: an empty one); other values
    pass through. Errors never quote the value (it may hold secrets)."""
    if isinstance(value, str):
        if not value.strip():
            return shape()
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
        except RecursionError:
            raise ValueError("is JSON nested too deeply") from None
        if not isinstance(value, shape):
            raise ValueError(f"must be a JSON {what}")
    return value
