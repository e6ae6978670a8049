"""Where deliveries may go. Public addresses always; loopback, private, link-local and other
internal addresses only where an admin listed them (`webhook_allowed_hosts`), so that a webhook
cannot become a way into the hub's own network. A delivery connects to the very address that was
checked (the URL's host is kept for `Host` and TLS), so DNS cannot rebind it elsewhere."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import httpx

from hugbox.errors import BadRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
RESOLVE_S = 5.0  # at delivery; past it the attempt fails and is retried
CREATE_RESOLVE_S = 2.0  # when a webhook is made or changed


class TargetRefused(BadRequest):
    """A webhook URL the hub will not call (a 400 when creating it; a failed delivery later)."""


@dataclass(frozen=True)
class AllowList:
    names: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        names: set[str] = set()
        networks: list[Network] = []
        for entry in (e.strip() for e in entries if e.strip()):
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(_normal(entry))
        return cls(frozenset(names), tuple(networks))

    def allows(self, host: str, address: Address) -> bool:
        plain = _plain(address)
        if plain.is_global and not plain.is_multicast:
            return True
        return _normal(host) in self.names or any(plain in n for n in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked URL: `url` names the address to connect to, `host` what the server expects."""

    url: httpx.URL
    host: str
    address: Address


def _normal(host: str) -> str:
    return host.lower().rstrip(".").strip("[]")


def _plain(address: Address) -> Address:
    """An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_url(url: str) -> httpx.URL:
    """`url` if it is an http(s) URL with a host, else TargetRefused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise TargetRefused(f"Invalid webhook URL {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise TargetRefused("A webhook URL must be an http:// or https:// URL with a host")
    return parsed


class ResolveTimeout(Exception):
    """The name server did not answer in time (worth another try later)."""


@cache
def _lookups() -> ThreadPoolExecutor:
    """Where names are looked up: getaddrinfo cannot be given a timeout, so it runs here and
    whoever asked waits only so long (a lookup left behind ends on its own)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


def addresses(host: str, port: int, timeout: float = RESOLVE_S) -> list[Address]:
    """The addresses `host` stands for (itself, when it is one); [] when it does not resolve."""
    try:
        return [ipaddress.ip_address(_normal(host))]
    except ValueError:
        pass
    lookup = _lookups().submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout)
    except TimeoutError:
        raise ResolveTimeout(f"{host!r} did not resolve within {timeout:.0f} s") from None
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, allow: AllowList) -> httpx.URL:
    """At creation: refuse what is sure to be refused (a bad URL, an internal address); a name
    that does not resolve now may later, and is judged again at each delivery."""
    parsed = parse_url(url)
    try:
        found = addresses(parsed.host, parsed.port or _default_port(parsed), CREATE_RESOLVE_S)
    except ResolveTimeout:
        found = []  # a slow name server must not hold the request: delivery judges it
    for address in found:
        _check(parsed.host, address, allow)
    return parsed


def resolve(url: str, allow: AllowList) -> Target:
    """At delivery: the one address to connect to, every address the name gave being allowed."""
    parsed = parse_url(url)
    found = addresses(parsed.host, parsed.port or _default_port(parsed))
    if not found:
        raise TargetRefused(f"Cannot resolve {parsed.host!r}")
    for address in found:
        _check(parsed.host, address, allow)
    pinned = parsed.copy_with(host=str(found[0]))
    return Target(url=pinned, host=parsed.netloc.decode("ascii"), address=found[0])


def _check(host: str, address: Address, allow: AllowList) -> None:
    if not allow.allows(host, address):
        raise TargetRefused(
            f"{host} ({address}) is an internal address; an admin must list it in "
            "HUGBOX_WEBHOOK_ALLOWED_HOSTS for webhooks to reach it"
        )


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
