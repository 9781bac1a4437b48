"""Where the notifier may connect: an egress policy checked on the resolved address, at connect time.

A sink URL is configuration, but it may come from someone who should not reach the machine's
neighbours (a cloud metadata service at 169.254.169.254, an admin port on a private address). Every
outbound connection, by httpx (single deliveries, the upstream, ``test-sink``) and by aiohttp (batch
deliveries), resolves the host name itself, drops the addresses the policy denies, and connects to
an allowed address it resolved: a name that resolves to a denied address is refused, and a DNS answer
that changes between a check and the connect (rebinding) cannot slip through, because there is no
second lookup.

- :func:`decide` is the pure decision: (address, policy) -> allowed, with a reason.
- :mod:`notifier.delivery.egress_hooks` puts it in front of both clients: for httpx a transport whose
  httpcore network backend checks, for aiohttp a resolver (resolve, then filter) and a socket factory
  that checks the address of every socket it opens (aiohttp does not ask the resolver about IP literals).

Neither client uses proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``):
through a proxy the policy would see the proxy's address, not the destination's, and a proxy would
see the upstream token. A refusal raises :class:`EgressDenied` (an ``OSError``, and an
``httpcore.ConnectError`` for httpx).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpcore

if TYPE_CHECKING:
    from notifier.runtime.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_DENY: tuple[tuple[str, str], ...] = (
    ("169.254.0.0/16", "link-local, where cloud metadata services answer"),
    ("fe80::/10", "IPv6 link-local"),
    ("fd00:ec2::254/128", "the AWS IPv6 metadata service"),
)
"""Denied unless NOTIFIER_EGRESS_ALLOW lifts them."""

STRICT_DENY: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "CGNAT shared address space"),
    ("127.0.0.0/8", "loopback"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("ff00::/8", "multicast"),
)
"""Also denied with NOTIFIER_EGRESS_STRICT=true, as is any other address that is not globally routable."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Rule:
    network: Network
    what: str
    source: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    deny: tuple[Rule, ...]
    allow: tuple[Network, ...] = ()
    strict: bool = False

    @classmethod
    def build(cls, *, deny: Iterable[str] = (), allow: Iterable[str] = (), strict: bool = False) -> EgressPolicy:
        rules = [Rule(_net(cidr), what, "denied by default") for cidr, what in DEFAULT_DENY]
        rules += [Rule(_net(cidr), "listed", "denied by NOTIFIER_EGRESS_DENY") for cidr in deny]
        if strict:
            rules += [Rule(_net(cidr), what, "denied by NOTIFIER_EGRESS_STRICT") for cidr, what in STRICT_DENY]
        return cls(deny=tuple(rules), allow=tuple(_net(cidr) for cidr in allow), strict=strict)

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        return cls.build(deny=settings.egress_deny, allow=settings.egress_allow, strict=settings.egress_strict)


def _net(cidr: str) -> Network:
    return ipaddress.ip_network(cidr, strict=False)


def parse_address(address: str | IPAddress) -> IPAddress:
    if isinstance(address, str):
        # A scoped IPv6 address (fe80::1%eth0) is judged without its scope.
        return ipaddress.ip_address(address.split("%", 1)[0])
    return address


def _forms(ip: IPAddress) -> list[IPAddress]:
    """The address and the IPv4 address it stands for (IPv4-mapped, IPv4-compatible, NAT64)."""
    forms: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            forms.append(ip.ipv4_mapped)
        elif ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
            forms.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return forms


def decide(address: str | IPAddress, policy: EgressPolicy) -> Decision:
    """May the notifier connect to this address? Pure. NOTIFIER_EGRESS_ALLOW wins over every denial."""
    try:
        ip = parse_address(address)
    except ValueError:
        return Decision(False, "not an IP address")
    forms = _forms(ip)
    for form in forms:
        for network in policy.allow:
            if form.version == network.version and form in network:
                return Decision(True, f"{ip} is allowed by NOTIFIER_EGRESS_ALLOW ({network})")
    for form in forms:
        for rule in policy.deny:
            if form.version == rule.network.version and form in rule.network:
                shown = str(ip) if form is ip else f"{ip} ({form})"
                return Decision(False, f"{shown} is in {rule.network} ({rule.what}), {rule.source}")
    # Judged by the IPv4 address a mapped form stands for (Python 3.11 counts every ::ffff:0:0/96 as private).
    if policy.strict and not forms[-1].is_global:
        return Decision(False, f"{ip} is not a public address, denied by NOTIFIER_EGRESS_STRICT")
    return Decision(True, f"{ip} is allowed")


class EgressDenied(OSError, httpcore.ConnectError):
    """A connection the egress policy refuses. Final: trying again would be refused again."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused by the egress policy: {reason}")
        self.reason = reason

    def __str__(self) -> str:
        return f"refused by the egress policy: {self.reason}"


def denial_of(exc: BaseException | None) -> EgressDenied | None:
    """The egress refusal behind a client library's exception, if that is what it is."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, EgressDenied):
            return exc
        os_error = getattr(exc, "os_error", None)
        if isinstance(os_error, EgressDenied):
            return os_error
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


Resolve = Callable[[str, int], Sequence[str]]
"""Host name and port -> the IP addresses to try, in order."""


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


RESOLVE: Resolve = system_resolve
"""How both clients resolve names (tests put a resolver of their own here)."""


def allowed_addresses(host: str, addresses: Sequence[str], policy: EgressPolicy) -> list[str]:
    """The addresses the policy allows; EgressDenied (naming the first refusal) when there is none."""
    allowed: list[str] = []
    refusals: list[str] = []
    for address in addresses:
        decision = decide(address, policy)
        if decision.allowed:
            allowed.append(address)
        else:
            refusals.append(decision.reason)
    if not allowed:
        raise EgressDenied(refusals[0] if refusals else f"{host} resolves to no address")
    return allowed
