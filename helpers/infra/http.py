"""HTTP from the course's own tools, to this machine only: the loopback guard and one shared TLS context."""

from __future__ import annotations

import ipaddress
import ssl
from functools import lru_cache
from urllib.parse import urlsplit


@lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """Return one default (verifying) SSL context for all clients: building one per client costs ~30 ms."""
    return ssl.create_default_context()


def require_loopback(base_url: str) -> str:
    """Return the URL's host if it is a loopback address (127.0.0.0/8, ::1, localhost); raise ValueError otherwise."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {base_url!r}")
    host = parts.hostname
    if host.lower() == "localhost":
        return host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to send load to {host!r}: only loopback hosts (127.0.0.0/8, ::1, localhost)")
    return host

