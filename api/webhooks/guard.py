"""The SSRF guard: where a webhook may be sent. A job's owner names the URL, and the request comes
from inside our network, so it must not be a way to reach what only we can reach:

- https only, no user name or password in the URL;
- every address its host name resolves to must be a public one (`is_global`: no loopback, private,
  link-local (the cloud metadata address 169.254.169.254 among them), carrier-grade NAT, multicast,
  reserved or unspecified ranges, nor those written as IPv4-mapped IPv6);
- the delivery connects to the very address that was checked (no second DNS look-up that could
  answer differently), and follows no redirect (api.webhooks.delivery);
- except for the hosts of settings.NST_WEBHOOK_ALLOWED_HOSTS ("host" or "host:port"): a receiver
  of your own on this machine or your network, over http too (the tests use it).

`check` is the cheap part, at submission (no DNS: a slow name server must not hold up a page);
`resolve` is the whole check, at each try.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class Refused(Exception):
    """The URL may not receive webhooks; the message says why, for its owner."""


class Unresolved(Exception):
    """The host name did not resolve (now): a try that failed, to be made again later."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str      # as in the URL (the TLS name and the Host header)
    port: int
    address: str   # the checked address to connect to
    path: str      # with its query


def _allowed_host(host: str, port: int) -> bool:
    entries = {entry.lower() for entry in settings.NST_WEBHOOK_ALLOWED_HOSTS}
    return host in entries or f"{host}:{port}" in entries


def _parts(url: str) -> tuple[str, str, int, str, bool]:
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError:
        raise Refused("This is not a URL a webhook can be sent to.") from None
    host = (split.hostname or "").lower()
    if split.scheme not in ("https", "http") or not host:
        raise Refused("A webhook URL must start with https:// and name a host.")
    if split.username or split.password:
        raise Refused("A webhook URL may not contain a user name or password.")
    port = port or (443 if split.scheme == "https" else 80)
    allowed = _allowed_host(host, port)
    if split.scheme != "https" and not allowed:
        raise Refused("A webhook URL must use https.")
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    return split.scheme, host, port, path, allowed


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


NOT_PUBLIC = ("Webhooks are sent only to public internet addresses; {host} is on this machine or a private "
              "network.")


def check(url: str) -> None:
    """The checks that need no DNS look-up (an address written as such, the scheme). Raises Refused."""
    _, host, _, _, allowed = _parts(url)
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    if not allowed and not _public(str(literal)):
        raise Refused(NOT_PUBLIC.format(host=host))


def resolve(url: str) -> Target:
    """Where to connect for `url`: its host's first address, once all of them passed. Raises
    Refused, or Unresolved when the name does not resolve."""
    scheme, host, port, path, allowed = _parts(url)
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unresolved(f"The host name {host} could not be resolved.") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Unresolved(f"The host name {host} could not be resolved.")
    if not allowed and not all(_public(a) for a in addresses):
        raise Refused(NOT_PUBLIC.format(host=host))
    return Target(scheme, host, port, addresses[0], path)
