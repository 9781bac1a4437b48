"""``redis+sentinel://`` URLs: a Redis master found through Redis Sentinel.

    redis+sentinel://[[user]:password@]host1[:port][,host2[:port]...]/service[/db][?options]
    rediss+sentinel://...                       (TLS to the sentinels and to the master)

- the hosts are sentinels (port 26379 when left out; IPv6 in brackets); ``service`` is the master's name
  in the sentinels' configuration (``sentinel monitor <service> ...``); ``db`` defaults to 0;
- the user and password in the URL are the master's (and its replicas'), as in a ``redis://`` URL;
  ``NOTIFIER_REDIS_PASSWORD`` stands in for it;
- the sentinels' own password is ``sentinel_password=`` in the query or ``NOTIFIER_REDIS_SENTINEL_PASSWORD``
  (``sentinel_username=`` for an ACL user); the other query options are redis-py's (``ssl_ca_certs=...``),
  applied to the master and, with TLS, to the sentinels' connections too.

Parsing is pure; errors name what is wrong and never repeat the URL (it may hold passwords).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from redis.connection import parse_url

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_PORT = 26379
_SENTINEL_OPTIONS = ("sentinel_password", "sentinel_username")
_SSL_OPTIONS = ("ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data", "ssl_ca_path",
                "ssl_check_hostname", "ssl_min_version", "ssl_ciphers")


@dataclass(frozen=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    tls: bool
    master_options: dict[str, Any] = field(default_factory=dict)
    """redis-py keyword arguments for the master's connections: ``db``, ``username``, ``password``, query options."""
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def sentinel_options(self) -> dict[str, Any]:
        """Keyword arguments for the connections to the sentinels (TLS settings shared with the master)."""
        options: dict[str, Any] = {"username": self.sentinel_username, "password": self.sentinel_password}
        if self.tls:
            options["ssl"] = True
            options.update({k: v for k, v in self.master_options.items() if k in _SSL_OPTIONS})
        return options


def is_sentinel_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SCHEMES


def parse_sentinel_url(url: str) -> SentinelURL:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in SCHEMES:
        raise ValueError("must be a redis+sentinel:// or rediss+sentinel:// URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    sentinels = tuple(_sentinel(index, item) for index, item in enumerate(hosts.split(","), start=1))
    segments = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    if not segments or not segments[0]:
        raise ValueError("names no master: put the service name after the sentinels (…:26379/mymaster/0)")
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ValueError("has a path other than /<service>[/<database number>]")
    query = parse_qsl(parts.query, keep_blank_values=True)
    sentinel = {k: v for k, v in query if k in _SENTINEL_OPTIONS}
    rest = [(k, v) for k, v in query if k not in _SENTINEL_OPTIONS]
    tls = parts.scheme.startswith("rediss")
    if not tls and any(k.startswith("ssl_") for k, _ in rest):
        raise ValueError("has TLS options (ssl_...) but is not a rediss+sentinel:// URL")
    # The master's part is exactly a redis:// URL's: let redis-py read it, so the options mean the same.
    master_url = (f"{'rediss' if tls else 'redis'}://{userinfo + '@' if userinfo else ''}localhost/"
                  f"{segments[1] if len(segments) == 2 else 0}?{urlencode(rest)}")
    try:
        options: dict[str, Any] = parse_url(master_url)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError):
        raise ValueError("has an invalid query option (see redis-py's URL options)") from None
    for key in ("host", "port", "connection_class", "path"):
        options.pop(key, None)
    return SentinelURL(sentinels, unquote(segments[0]), tls, options,
                       sentinel.get("sentinel_username") or None, sentinel.get("sentinel_password") or None)


def _sentinel(index: int, item: str) -> tuple[str, int]:
    try:
        parts = urlsplit(f"//{item}")
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"sentinel {index} has an invalid address or port") from None
    if not host or parts.path or parts.username is not None:
        raise ValueError(f"sentinel {index} is not a host[:port]")
    return host, port or DEFAULT_PORT
