"""Redis over TLS (``rediss://``) with a password or an ACL user: it works, and the password never shows."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.sentinel import SentinelManagedSSLConnection

from notifier.runtime.connection import connect
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys
from tests.integration.conftest import A, Stack
from tests.support.processes import settings_env, wait_until
from tests.support.redis_server import find_redis_server
from tests.support.sentinel_cluster import tls_sentinel
from tests.support.tls_redis import ACL_PASSWORD, ACL_USER, PASSWORD, TLSRedis

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_redis() -> Iterator[TLSRedis]:
    server = TLSRedis(find_redis_server())
    why_not = server.start()
    if why_not is not None:
        server.stop()
        pytest.skip(f"no TLS Redis here: {why_not}")
    yield server
    server.stop()


def test_password_and_acl_user_over_tls(tls_redis: TLSRedis, make_settings: Callable[..., Settings]) -> None:
    with_password = connect(make_settings(redis_url=tls_redis.url(), redis_password=PASSWORD))
    assert with_password.ping() and with_password.acl_whoami() == "default"
    acl = connect(make_settings(redis_url=tls_redis.url(f"{ACL_USER}:{ACL_PASSWORD}@")))
    assert acl.ping() and acl.acl_whoami() == ACL_USER
    user_in_url = connect(make_settings(redis_url=tls_redis.url(f"{ACL_USER}@"), redis_password=ACL_PASSWORD))
    assert user_in_url.acl_whoami() == ACL_USER
    for client in (with_password, acl, user_in_url):
        client.close()
    wrong = connect(make_settings(redis_url=tls_redis.url(), redis_password="not-the-pa55word"))
    with pytest.raises(redis.AuthenticationError) as caught:
        wrong.ping()
    assert "not-the-pa55word" not in str(caught.value)
    plain = redis.Redis(host="127.0.0.1", port=tls_redis.port, password=PASSWORD, socket_timeout=2)
    with pytest.raises(redis.ConnectionError):
        plain.ping()  # TLS only: a plain client gets nowhere


def test_repr_of_settings_shows_no_redis_password(tls_redis: TLSRedis, make_settings: Callable[..., Settings]) -> None:
    for settings in (make_settings(redis_url=tls_redis.url(f":{PASSWORD}@")),
                     make_settings(redis_url=tls_redis.url(), redis_password=PASSWORD)):
        assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)


def test_poller_and_worker_deliver_through_a_tls_redis(tls_redis: TLSRedis, stack: Callable[..., Stack]) -> None:
    s = stack(redis_url=tls_redis.url(f"{ACL_USER}@"), redis_password=ACL_PASSWORD)
    client = connect(s.settings)
    client.flushdb()
    try:
        s.spawn(["poller"])
        s.spawn(["worker"])
        wait_until(lambda: bool(client.hexists(Keys(s.settings.key_prefix).meta(A), "baselined_at")), 20,
                   "the first poll over TLS")
        image = s.sim.state.add_image(A, 1)
        got = s.receiver.wait_for(lambda got: any((r.payload or {}).get("data", {}).get("image_id") == image
                                                  for r in got), 30)
        assert got[-1].verified
        status = subprocess.run([sys.executable, "-m", "notifier.cli", "status", "--json"],
                                env=settings_env(s.settings), capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert ACL_PASSWORD not in status.stdout + status.stderr
    finally:
        client.flushdb()
        client.close()


def test_sentinel_and_master_over_tls(tls_redis: TLSRedis, make_settings: Callable[..., Settings]) -> None:
    """``rediss+sentinel://``: the sentinel and the master it names both speak only TLS, and both are reached."""
    process, port = tls_sentinel(tls_redis.binary, tls_redis.dir, tls_redis.port, PASSWORD, tls_redis.cert,
                                 tls_redis.dir / "key.pem", service="tls-master")
    client = connect(make_settings(
        redis_url=f"rediss+sentinel://127.0.0.1:{port}/tls-master/0?ssl_ca_certs={tls_redis.cert}",
        redis_password=PASSWORD))
    try:
        wait_until(lambda: _answers(client), 10, "the master through the TLS sentinel", 0.1)
        assert client.acl_whoami() == "default"
        assert client.connection_pool.connection_class is SentinelManagedSSLConnection
    finally:
        client.close()
        process.kill()
        process.wait()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:  # the sentinel is still starting, or has not met the master yet
        return False
