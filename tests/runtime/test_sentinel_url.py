"""``redis+sentinel://`` URLs: which part is a sentinel, the master, a password; errors that never echo the URL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from notifier.errors import ConfigError
from notifier.runtime.checks import check_redis_url, redis_url_secrets
from notifier.runtime.redact import Redactor
from notifier.runtime.sentinel_url import is_sentinel_url, parse_sentinel_url
from notifier.runtime.settings import Settings, load_settings


def test_sentinels_service_database_and_the_masters_password() -> None:
    url = parse_sentinel_url("redis+sentinel://:master%40pw@s1,s2:26380,[fd00::7]:5000/notifier-master/3"
                             "?sentinel_password=sentinel-pw&socket_keepalive=true")
    assert url.sentinels == (("s1", 26379), ("s2", 26380), ("fd00::7", 5000))
    assert url.service == "notifier-master" and not url.tls
    assert url.master_options == {"db": 3, "password": "master@pw", "socket_keepalive": True}
    # The master's password never goes to the sentinels, nor theirs to the master.
    assert url.sentinel_options() == {"username": None, "password": "sentinel-pw"}


def test_an_acl_user_tls_and_the_default_database() -> None:
    url = parse_sentinel_url("rediss+sentinel://notifier:pw@sentinel.example/notifier-master"
                             "?ssl_ca_certs=/etc/ca.pem&sentinel_username=watcher")
    assert url.tls and url.sentinels == (("sentinel.example", 26379),)
    assert url.master_options == {"db": 0, "username": "notifier", "password": "pw", "ssl_ca_certs": "/etc/ca.pem"}
    assert url.sentinel_options() == {"username": "watcher", "password": None, "ssl": True,
                                      "ssl_ca_certs": "/etc/ca.pem"}


@pytest.mark.parametrize(("url", "why"), [
    ("redis+sentinel://:pa55word@/notifier-master", "sentinel 1 is not a host"),
    ("redis+sentinel://:pa55word@s1,/notifier-master", "sentinel 2 is not a host"),
    ("redis+sentinel://:pa55word@s1:notaport/notifier-master", "sentinel 1 has an invalid address or port"),
    ("redis+sentinel://:pa55word@s1:26379", "names no master"),
    ("redis+sentinel://:pa55word@s1/notifier-master/zero", "has a path other than"),
    ("redis+sentinel://:pa55word@s1/notifier-master/0/extra", "has a path other than"),
    ("redis+sentinel://:pa55word@s1/notifier-master?socket_timeout=soon", "has an invalid query option"),
    ("redis+sentinel://:pa55word@s1/notifier-master?ssl_ca_certs=/ca.pem", "has TLS options"),
])
def test_a_bad_url_says_what_is_wrong_without_the_url(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        check_redis_url(url)
    assert "pa55word" not in str(caught.value) and "notifier-master" not in str(caught.value)


def test_schemes() -> None:
    assert is_sentinel_url("redis+sentinel://s/m") and is_sentinel_url("REDISS+SENTINEL://s/m")
    assert not is_sentinel_url("redis://host:6379/0") and not is_sentinel_url("")
    assert check_redis_url("redis+sentinel://s1,s2/m/0") == "redis+sentinel://s1,s2/m/0"
    with pytest.raises(ValueError, match="redis\\+sentinel://"):
        check_redis_url("sentinel://s1/m")


def test_every_password_of_the_url_is_masked(make_settings: Callable[..., Settings]) -> None:
    url = "redis+sentinel://:master-pa55@s1:26379,s2:26379/m/0?sentinel_password=sentinel-pa55&password=query-pa55"
    assert set(redis_url_secrets(url)) >= {"master-pa55", "sentinel-pa55", "query-pa55"}
    settings = make_settings(redis_url=url, redis_sentinel_password="setting-sentinel-pa55")
    masked = Redactor.from_settings(settings).redact(
        f"could not reach {url} with setting-sentinel-pa55; sentinel-pa55 and master-pa55")
    assert "pa55" not in masked


def test_a_sentinel_password_needs_a_sentinel_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_REDIS_URL", "redis://redis.example:6379/0")
    monkeypatch.setenv("NOTIFIER_REDIS_SENTINEL_PASSWORD", "sentinel-pa55-alone")
    with pytest.raises(ConfigError, match="NOTIFIER_REDIS_SENTINEL_PASSWORD needs a redis\\+sentinel://") as caught:
        load_settings(_env_file=None)
    assert "pa55" not in str(caught.value)
    monkeypatch.setenv("NOTIFIER_REDIS_URL", "redis+sentinel://s1,s2,s3/notifier-master")
    settings = load_settings(_env_file=None)
    assert "pa55" not in repr(settings)
    monkeypatch.setenv("NOTIFIER_REDIS_URL", "redis+sentinel://:pa55-in-url@s1:x/m")
    with pytest.raises(ConfigError, match="NOTIFIER_REDIS_URL: sentinel 1 has an invalid") as bad:
        load_settings(_env_file=None)
    assert "pa55" not in str(bad.value)
