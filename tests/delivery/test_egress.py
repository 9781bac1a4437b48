"""The egress policy: the pure decision, and both HTTP clients refusing a denied address before any connect.

No test here connects anywhere but loopback: the names below resolve through a resolver of the test's
own, and any attempt to open a connection to another address fails the test (see ``tripwire``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from notifier.delivery import egress, egress_hooks
from notifier.delivery.egress import EgressDenied, EgressPolicy, decide
from notifier.delivery.sinks import webhook
from notifier.delivery.sinks.bulk import send_all
from notifier.errors import DeliveryError
from notifier.runtime.sink_config import WebhookConfig
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import event
from tests.support.receiver import Receiver

DEFAULT = EgressPolicy.build()
STRICT = EgressPolicy.build(strict=True)


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", "fd00:ec2::254",
    "::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "64:ff9b::a9fe:a9fe", "::169.254.169.254",
])
def test_link_local_and_metadata_are_denied_by_default(address: str) -> None:
    decision = decide(address, DEFAULT)
    assert not decision.allowed and "denied by default" in decision.reason


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.1", "8.8.8.8", "2606:4700::1"])
def test_everything_else_is_allowed_by_default(address: str) -> None:
    assert decide(address, DEFAULT).allowed


@pytest.mark.parametrize(("address", "what"), [
    ("127.0.0.1", "loopback"), ("127.8.9.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.0.1", "private"), ("::ffff:10.0.0.1", "private"),
    ("fd12::1", "unique local"), ("100.64.0.1", "CGNAT"), ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("0.0.0.0", "this network"),
    ("::", "unspecified"), ("192.0.2.1", "documentation"), ("2001:db8::1", "documentation"),
])
def test_strict_denies_every_non_public_range(address: str, what: str) -> None:
    decision = decide(address, STRICT)
    assert not decision.allowed and what in decision.reason and "NOTIFIER_EGRESS_STRICT" in decision.reason
    assert decide(address, DEFAULT).allowed or "denied by default" in decide(address, DEFAULT).reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "::ffff:8.8.8.8", "2606:4700::1111"])
def test_strict_allows_public_addresses(address: str) -> None:
    assert decide(address, STRICT).allowed


def test_allow_wins_and_deny_adds() -> None:
    policy = EgressPolicy.build(deny=["203.0.113.0/24", "2001:db8::/32"], allow=["127.0.0.1/32", "169.254.10.0/24"],
                                strict=True)
    assert decide("127.0.0.1", policy).allowed and "NOTIFIER_EGRESS_ALLOW" in decide("127.0.0.1", policy).reason
    assert decide("::ffff:127.0.0.1", policy).allowed  # the mapped form of an allowed address
    assert not decide("127.0.0.2", policy).allowed
    assert decide("169.254.10.9", policy).allowed and not decide("169.254.169.254", policy).allowed
    assert "NOTIFIER_EGRESS_DENY" in decide("203.0.113.7", EgressPolicy.build(deny=["203.0.113.0/24"])).reason
    assert not decide("not-an-address", DEFAULT).allowed


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the test makes up, resolved to what the test says (a DNS answer nobody else sees)."""
    answers: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return answers[host]
        return egress.system_resolve(host, port) if host in ("127.0.0.1", "::1", "localhost") else [host]

    monkeypatch.setattr(egress, "RESOLVE", resolve)
    return answers


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Any connection to an address that is not loopback fails the test instead of leaving the machine."""
    attempts: list[Any] = []
    real_create, real_connect = socket.create_connection, asyncio.BaseEventLoop.sock_connect

    def loopback(address: Any) -> bool:
        try:
            import ipaddress

            return ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
        except ValueError:
            return False

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not loopback(address):
            attempts.append(address)
            raise AssertionError(f"a connection to {address} was attempted")
        return real_create(address, *args, **kwargs)

    async def sock_connect(self: Any, sock: socket.socket, address: Any) -> None:
        if not loopback(address):
            attempts.append(address)
            raise AssertionError(f"a connection to {address} was attempted")
        await real_connect(self, sock, address)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(asyncio.BaseEventLoop, "sock_connect", sock_connect)
    yield attempts
    assert attempts == []


def hook(url: str) -> WebhookConfig:
    return WebhookConfig(url=url, secret=SECRET, name="hook")


def single(url: str, policy: EgressPolicy = DEFAULT) -> DeliveryError | int:
    request = webhook.build_request(event(), hook(url), time.time())
    with egress_hooks.client(policy) as client:
        try:
            return webhook.send(client, request, 5).status_code
        except DeliveryError as error:
            return error


def batch(url: str, policy: EgressPolicy = DEFAULT) -> DeliveryError | int:
    [result] = send_all([webhook.build_request(event(), hook(url), time.time())], 5, 4, policy=policy)
    return result if isinstance(result, DeliveryError) else result.status_code


CLIENTS: list[Callable[..., DeliveryError | int]] = [single, batch]


@pytest.mark.parametrize("send", CLIENTS, ids=["httpx", "aiohttp"])
@pytest.mark.parametrize("url", [
    "http://metadata.test/latest/meta-data/", "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/", "https://metadata.test/",
])
def test_a_denied_address_is_a_final_failure_with_the_reason(send: Callable[..., Any], url: str,
                                                             resolver: dict[str, list[str]]) -> None:
    resolver["metadata.test"] = ["169.254.169.254"]
    outcome = send(url)
    assert isinstance(outcome, DeliveryError), outcome
    assert not outcome.retryable and outcome.status_code is None
    assert "refused by the egress policy" in str(outcome) and "denied by default" in str(outcome)


@pytest.mark.parametrize("send", CLIENTS, ids=["httpx", "aiohttp"])
def test_only_the_allowed_resolved_address_is_used(send: Callable[..., Any], resolver: dict[str, list[str]],
                                                   receiver: Callable[..., Receiver]) -> None:
    # "rebind.test" exists only in this resolver: reaching the receiver proves the connection went to
    # the address the policy checked, not to a second lookup.
    rec = receiver()
    resolver["rebind.test"] = ["169.254.169.254", "127.0.0.1"]
    port = rec.url.split(":")[2].split("/")[0]
    assert send(f"http://rebind.test:{port}{rec.path}") == 200
    assert len(rec.received) == 1 and rec.received[0].verified


@pytest.mark.parametrize("send", CLIENTS, ids=["httpx", "aiohttp"])
def test_strict_refuses_loopback_unless_allowed(send: Callable[..., Any], receiver: Callable[..., Receiver],
                                                resolver: dict[str, list[str]]) -> None:
    rec = receiver()
    refused = send(rec.url, STRICT)
    assert isinstance(refused, DeliveryError) and "loopback" in str(refused) and not refused.retryable
    assert send(rec.url, EgressPolicy.build(strict=True, allow=["127.0.0.0/8"])) == 200
    assert len(rec.received) == 1


class ProxyTrap:
    """A loopback listener that only counts who connects to it: as HTTP(S)_PROXY it must see nothing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.mark.parametrize("send", CLIENTS, ids=["httpx", "aiohttp"])
def test_neither_client_uses_proxies_from_the_environment(send: Callable[..., Any], receiver: Callable[..., Receiver],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    trap = ProxyTrap()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, trap.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    rec = receiver()
    try:
        assert send(rec.url) == 200
    finally:
        trap.sock.close()
    assert trap.connections == 0 and len(rec.received) == 1


def test_the_refusal_reaches_httpx_as_a_connect_error(resolver: dict[str, list[str]]) -> None:
    resolver["metadata.test"] = ["fe80::1"]
    with egress_hooks.client(DEFAULT) as client, pytest.raises(httpx.ConnectError) as caught:
        client.get("http://metadata.test/")
    denied = egress.denial_of(caught.value)
    assert isinstance(denied, EgressDenied) and "fe80::/10" in denied.reason


def test_the_upstream_client_and_the_delivery_context_are_behind_the_policy(make_settings: Callable[..., Any],
                                                                           fake_redis: Any) -> None:
    from notifier.delivery.context import DeliveryContext
    from notifier.runtime.app import build_poller

    settings = make_settings(egress_deny="192.0.2.0/24", egress_strict="true")
    context = DeliveryContext.from_settings(settings, client=fake_redis)
    assert context.egress.strict and not decide("192.0.2.1", context.egress).allowed
    with pytest.raises(httpx.ConnectError) as caught:
        context.client.get("http://192.0.2.1/")
    assert egress.denial_of(caught.value) is not None
    poller = build_poller(settings, fake_redis)
    try:
        with pytest.raises(Exception) as upstream:
            poller.sources[0].upstream.list_images(None, limit=1, offset=0)
        assert egress.denial_of(upstream.value) is not None  # loopback under strict: refused before connecting
    finally:
        poller.close()


def test_a_delivery_job_to_a_denied_sink_fails_at_once_without_opening_the_circuit(
        make_settings: Callable[..., Any], fake_redis: Any) -> None:
    from notifier.delivery.context import DeliveryContext, install
    from notifier.delivery.single import deliver
    from notifier.state.keys import Keys

    settings = make_settings(webhook_url="http://169.254.169.254/latest/meta-data/", webhook_secret=SECRET)
    install(DeliveryContext.from_settings(settings, client=fake_redis))
    try:
        with pytest.raises(DeliveryError, match=r"refused by the egress policy: 169\.254\.169\.254") as caught:
            deliver("webhook", event().id, event().payload())
    finally:
        install(None)
    assert not caught.value.retryable
    assert fake_redis.get(Keys(settings.key_prefix).circuit("webhook")) is None
