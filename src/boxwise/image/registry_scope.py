"""Where a registry credential may go: the rule, in one place.

A credential belongs to the registry host it was given for. The registry itself gets it; its
token realm gets it only when it is the same host or a sibling under the registry's own domain
(`registry-1.docker.io` → `auth.docker.io`, `registry.gitlab.com` → `gitlab.com`); an upload
`Location` or a redirect to another origin gets no Authorization at all. Never over plain http,
except to loopback (a registry on this machine, the engine's insecure default).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def _hostname(host: str) -> str:
    """`host[:port]` or `[v6]:port` → the bare lowercase name."""
    return (urlsplit(f"//{host}").hostname or "").lower()


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _same_site(name: str, registry: str) -> bool:
    """The same host, or a host under the registry's parent domain when that domain has at
    least two labels (`example.com` may not vouch for all of `.com`)."""
    if name == registry:
        return True
    if _is_ip(name) or _is_ip(registry):
        return False
    parent = registry.split(".", 1)[1] if "." in registry else ""
    if parent.count(".") < 1:
        return False
    return name == parent or name.endswith("." + parent)


def may_send_credentials(url: str, registry_host: str) -> bool:
    """True when `url` (a token realm) may be given the credentials of `registry_host`."""
    parts = urlsplit(url)
    name = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(name)):
        return False
    return _same_site(name, _hostname(registry_host))


def same_origin(url: str, base: str) -> bool:
    """True when `url` is on the registry's own scheme, host and port (what its Authorization is for)."""
    one, two = urlsplit(url), urlsplit(base)
    return (one.scheme, one.hostname, one.port) == (two.scheme, two.hostname, two.port)
