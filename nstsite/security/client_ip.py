"""The browser's address: one function for everything that counts or locks out by address (the
rate limits of nstsite.request_limits.rate_limits, django-axes' login lockout), so that one setting decides whom
to believe.

REMOTE_ADDR is the peer that connected to the web server. Behind a reverse proxy that peer is the
proxy, and the browser's address is in X-Forwarded-For, to which each proxy appends the address it
saw. Anyone can send that header, so it is read only when the peer is one of
settings.NST_TRUSTED_PROXIES (addresses or networks; none by default), and then from the right:
the first address that is not itself a trusted proxy is the one the outermost trusted proxy saw
connecting. Whatever a client wrote further left is never used.

A request that came over a Unix socket has no peer address (REMOTE_ADDR is empty): the servers
listen on one only behind the proxy, in a folder only their user may enter (nstsite/webtier/webserver.py),
so its peer is the proxy, and the last address of X-Forwarded-For, which the proxy overwrites with
the one it saw, is the browser's.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "0.0.0.0"  # noqa: S104 - an address to count by when the server gave none (a Unix socket)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:192.0.2.1) is that IPv4 client.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: IPAddress) -> bool:
    return any(address in network for network in settings.NST_TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The address of the browser that sent `request` (see the module notes)."""
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not request.META.get("REMOTE_ADDR"):  # a Unix socket: the proxy (see the module notes)
        return str(_address(hops[-1]) or UNKNOWN) if hops else UNKNOWN
    peer = _address(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return UNKNOWN
    if not _trusted(peer):
        return str(peer)
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage where a trusted proxy should have written an address: stop believing
        if not _trusted(address):
            return str(address)
        peer = address
    return str(peer)
