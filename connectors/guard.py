"""The address guard: no request of the Fetcher goes to a loopback, private, link-local or reserved address.

httpx has no hook to refuse an address, so every host is resolved here, every answer is vetted (IPv4-mapped,
NAT64 and 6to4 IPv6 forms and the decimal, hex and octal spellings of IPv4 included), and the Fetcher connects
to the vetted address, on the first request and on every redirect.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from contextlib import suppress

from connectors.fetch_errors import FatalFetchError, RetryableFetchError

__all__ = ["ALLOW_PRIVATE_NETWORKS_ENV", "IPAddress", "parse_ip_host", "resolve", "vet_address"]

ALLOW_PRIVATE_NETWORKS_ENV = "RARE_NEWS_ALLOW_PRIVATE_NETWORKS"
# How long vet_address waits for DNS (the Fetcher passes its own connect timeout).
VET_TIMEOUT = 10.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a URL host written as an IP stands for, or None if the host is a name.

    Resolvers accept more than dotted quads: 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 all mean 127.0.0.1,
    so those forms are normalised the way `inet_aton` reads them.
    """
    host = host.strip("[]")
    with suppress(ValueError):
        return ipaddress.ip_address(host)
    # inet_aton also accepts "1.2.3.4 anything": only hand it strings made of number characters.
    if _NUMERIC_HOST.fullmatch(host):
        with suppress(OSError):
            return ipaddress.IPv4Address(socket.inet_aton(host))
    return None


def _address_kind(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address (", a loopback address"), or None if it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64_PREFIX else None
        for embedded in (ip.ipv4_mapped, nat64, ip.sixtofour):
            if embedded is not None:
                kind = _address_kind(embedded)
                return None if kind is None else f"{kind} ({embedded}) inside an IPv6 address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def _refusal(host: str, ip: IPAddress, kind: str, *, resolved: bool) -> str:
    how = "resolves to" if resolved else "is"
    subject = f"{ip} {how} {kind}" if str(ip) == host else f"{host} {how} {ip}, {kind}"
    return f"refused: {subject} (set {ALLOW_PRIVATE_NETWORKS_ENV}=true to allow)"


def _getaddrinfo(host: str, *, url: str, timeout: float) -> list[IPAddress]:
    """Resolve `host` within `timeout` seconds (getaddrinfo cannot be told to give up; a thread can)."""
    answers: list[IPAddress] = []
    failures: list[OSError | UnicodeError] = []

    def resolve() -> None:
        try:
            for *_, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
                address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
                if address not in answers:
                    answers.append(address)
        except (OSError, UnicodeError) as exc:
            failures.append(exc)

    worker = threading.Thread(target=resolve, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise RetryableFetchError(url, f"timed out after {timeout:.1f} s resolving host {host}")
    if failures:
        failure = failures[0]
        if isinstance(failure, socket.gaierror) and failure.errno == socket.EAI_AGAIN:
            raise RetryableFetchError(url, f"could not resolve host {host} (temporary DNS failure)")
        raise FatalFetchError(url, f"could not resolve host {host}")
    if not answers:
        raise FatalFetchError(url, f"could not resolve host {host}")
    return answers


def resolve(host: str, *, url: str, timeout: float, vet: bool) -> list[IPAddress]:
    """The addresses to connect to for `host`; with `vet`, refuse the host if any answer is not public."""
    literal = parse_ip_host(host)
    if literal is not None:
        kind = _address_kind(literal) if vet else None
        if kind is not None:
            raise FatalFetchError(url, _refusal(host, literal, kind, resolved=False))
        return [literal]
    addresses = _getaddrinfo(host, url=url, timeout=timeout)
    if vet:
        # Every answer, not just the first: a name that also resolves inward is refused (DNS rebinding).
        for address in addresses:
            kind = _address_kind(address)
            if kind is not None:
                raise FatalFetchError(url, _refusal(host, address, kind, resolved=True))
    return addresses


def vet_address(host: str) -> None:
    """Raise FatalFetchError if `host` (a name or an IP in any notation) is or resolves to a private address.

    The check `Fetcher.get` makes before every connection, redirects included, unless the policy allows
    private networks. Resolution failures raise as they would from `Fetcher.get`.
    """
    resolve(host, url=host, timeout=VET_TIMEOUT, vet=True)
