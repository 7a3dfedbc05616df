"""SSRF-safe fetching of image URLs with httpx (the vLLM CVE-2025-6242 class of bug).

    data = await fetch_url("https://example.com/cat.jpg", FetchPolicy.from_settings(settings))

Every hop: http/https only, no credentials in the URL, the host on the domain allowlist
(if one is set), a literal IP in canonical form only (`2130706433`, `0x7f.1`, `127.1` are
refused rather than guessed at), DNS resolved once and *every* address checked by
`is_public_address`; then the connection goes to a checked address, with `Host` and TLS
SNI/certificate check on the name, so a DNS answer that changes between check and
connect (rebinding) is never used. Redirects (at most `max_redirects`) are followed by
hand, each target checked like the first. The body is counted while it streams.

Errors (`locvlm.api.errors`), all with `param` naming the URL field:
- 400 `invalid_request`: bad or blocked URL, unresolvable host, connection failure,
  too many redirects, a non-2xx answer (its status in the message), a compressed body;
- 413 `payload_too_large`: declared or streamed body over `max_bytes`;
- 504 `timeout`: the whole fetch (DNS, hops, body) over `timeout_s`. The image host is
  this request's upstream, and 504 is HTTP's "an upstream did not answer in time"; one
  deadline, not per read, so a server dripping a byte a second cannot hold a worker.
Messages never say what a blocked name resolved to (no probing of internal DNS).

Why not safehttpx (0.2.0): it accepts a host when *any one* resolved address is public,
asks Google's DNS over the internet when local resolution finds none, caches answers
forever, skips every check for allowlisted domains, has no redirect or size handling and
is built on httpx2, not httpx. What it does right (pin the checked IP, keep the name for
Host and SNI) is done here too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from locvlm.api.addresses import IPAddress, embedded_ipv4, is_public_address
from locvlm.api.errors import GatewayTimeoutError, InvalidRequestError, PayloadTooLargeError

if TYPE_CHECKING:  # settings.py takes its defaults from here
    from locvlm.api.settings import Settings

__all__ = [
    "AddressPolicy",
    "FetchPolicy",
    "IPAddress",
    "Resolver",
    "embedded_ipv4",
    "fetch_url",
    "is_public_address",
    "new_fetch_client",
    "system_resolve",
]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
AddressPolicy = Callable[[IPAddress], bool]

# `0x7f.1`, `2130706433`, `0177.0.0.1`: forms inet_aton takes but `ipaddress` does not.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+))*\.?", re.IGNORECASE)
_USER_AGENT = "locvlm-image-fetch/1"


def _any_unicast(ip: IPAddress) -> bool:
    """The `allow_private_urls` policy: private hosts too, never `0.0.0.0` or multicast."""
    return not (ip.is_unspecified or ip.is_multicast)


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """Every address getaddrinfo gives for `host` (hosts file, then DNS), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(sockaddr[0])
            if ip not in found:
                found.append(ip)
    return found


@dataclass(frozen=True)
class FetchPolicy:
    """What a fetch may reach and how much it may cost."""

    timeout_s: float = 10.0  # the whole fetch, DNS to last byte
    max_bytes: int = 10 * 1024 * 1024  # a large photo; more is not an image we want
    max_redirects: int = 3  # CDNs use one or two; long chains are probing
    # exact names, or "*.example.com" for its subdomains; empty: any host
    allowed_domains: tuple[str, ...] = ()
    # which resolved addresses may be connected to (tests allow their loopback server)
    is_allowed_address: AddressPolicy = field(default=is_public_address)
    resolver: Resolver = field(default=system_resolve)  # injectable for tests

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        """The policy the server's settings describe."""
        return cls(
            timeout_s=settings.fetch_timeout_s,
            max_bytes=settings.max_fetch_bytes,
            max_redirects=settings.max_fetch_redirects,
            allowed_domains=tuple(settings.url_allowed_domains),
            is_allowed_address=_any_unicast if settings.allow_private_urls else is_public_address,
        )


def new_fetch_client() -> httpx.AsyncClient:
    """A client fit for `fetch_url`, to share across requests.

    No proxies from the environment; no kept-alive connections, since the pool is keyed
    by IP and a TLS connection checked for one name must not serve another on that IP.
    """
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def fetch_url(
    url: str,
    policy: FetchPolicy,
    client: httpx.AsyncClient | None = None,
    *,
    param: str = "image.url",
) -> bytes:
    """The body of `url`, fetched under `policy`.

    Only the client's transport is used: its cookies, auth and default headers never
    reach the fetched host. Without a client, one is made for this call.

    Raises:
        InvalidRequestError: 400, the URL is bad or blocked or its host failed us.
        PayloadTooLargeError: 413, the body is over `policy.max_bytes`.
        GatewayTimeoutError: 504, the fetch took longer than `policy.timeout_s`.
    """
    try:
        async with asyncio.timeout(policy.timeout_s):
            if client is not None:
                return await _follow(url, policy, client, param)
            async with new_fetch_client() as own:
                return await _follow(url, policy, own, param)
    except (TimeoutError, httpx.TimeoutException):
        raise GatewayTimeoutError(
            f"fetching the image URL took longer than {policy.timeout_s:g} s", param=param
        ) from None
    except httpx.HTTPError as exc:
        log.info("image fetch failed: %s: %s", type(exc).__name__, exc)
        raise InvalidRequestError("could not fetch the image URL", param=param) from None


async def _follow(url: str, policy: FetchPolicy, client: httpx.AsyncClient, param: str) -> bytes:
    """Fetch, following redirects by hand so that every hop is checked."""
    target = _parse(url, param)
    for _hop in range(policy.max_redirects + 1):
        response = await _open(target, policy, client, param)
        try:
            if not response.has_redirect_location:
                return await _read_body(response, policy, param)
            # relative to the URL as the caller named it, never to the pinned IP
            target = _parse(response.headers["location"], param, base=target)
        finally:
            await response.aclose()
    raise InvalidRequestError(
        f"the image URL redirected more than {policy.max_redirects} times", param=param
    )


def _parse(url: str, param: str, base: httpx.URL | None = None) -> httpx.URL:
    """The URL (resolved against `base`), if acceptable: scheme, no credentials, a host."""
    try:
        parsed = base.join(url) if base is not None else httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise InvalidRequestError("not a valid URL", param=param) from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidRequestError("only http and https image URLs are accepted", param=param)
    if parsed.userinfo:
        raise InvalidRequestError("credentials in image URLs are not accepted", param=param)
    if not parsed.raw_host:
        raise InvalidRequestError("the image URL has no host", param=param)
    return parsed


def _literal_ip(host: str, param: str) -> IPAddress | None:
    """The address a host names literally; refuse numeric forms with two readings."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        raise InvalidRequestError("write IPv4 hosts as four decimal numbers (a.b.c.d)", param=param)
    return None


def _domain_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether `host` is on the allowlist: an exact name, or a subdomain of `*.name`."""
    host = host.rstrip(".")
    for entry in (a.lower().rstrip(".") for a in allowed):
        if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


async def _checked_addresses(
    host: str, port: int, policy: FetchPolicy, param: str
) -> Sequence[IPAddress]:
    """The addresses to connect to, all of them allowed by the policy."""
    if policy.allowed_domains and not _domain_allowed(host, policy.allowed_domains):
        raise InvalidRequestError("the image URL's host is not on the allowlist", param=param)
    literal = _literal_ip(host, param)
    if literal is not None:
        addresses: Sequence[IPAddress] = [literal]
    else:
        try:
            addresses = await policy.resolver(host, port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise InvalidRequestError("could not resolve the image URL's host", param=param)
    if not all(policy.is_allowed_address(ip) for ip in addresses):
        log.warning("blocked image URL host %r (addresses %s)", host, addresses)
        raise InvalidRequestError(
            "the image URL's host is not allowed: it is, or resolves to, a non-public address",
            param=param,
        )
    return addresses


async def _open(
    target: httpx.URL, policy: FetchPolicy, client: httpx.AsyncClient, param: str
) -> httpx.Response:
    """Check the target, then send to its first checked address that accepts a connection."""
    host = target.raw_host.decode("ascii").lower()
    port = target.port or (443 if target.scheme == "https" else 80)
    addresses = await _checked_addresses(host, port, policy, param)
    extensions: dict[str, object] = {"timeout": httpx.Timeout(policy.timeout_s).as_dict()}
    if target.scheme == "https":
        extensions["sni_hostname"] = host  # the certificate is checked against it too
    headers = {
        "Host": target.netloc.decode("ascii"),
        "Accept": "image/*",
        "Accept-Encoding": "identity",  # a compressed body could inflate past the cap
        "User-Agent": _USER_AGENT,
    }

    async def send(ip: IPAddress) -> httpx.Response:
        pinned = target.copy_with(host=str(ip))
        request = httpx.Request("GET", pinned, headers=headers, extensions=extensions)
        return await client.send(request, stream=True, follow_redirects=False, auth=None)

    for ip in addresses[:-1]:
        try:
            return await send(ip)
        except httpx.ConnectError:
            continue
    return await send(addresses[-1])


async def _read_body(response: httpx.Response, policy: FetchPolicy, param: str) -> bytes:
    """The body of a 2xx answer, refused once it passes the size cap."""
    if not response.is_success:
        raise InvalidRequestError(
            f"the image URL answered HTTP {response.status_code}", param=param
        )
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        raise InvalidRequestError("the image URL sent a compressed body", param=param)
    too_large = PayloadTooLargeError(
        f"the image URL's body is over {policy.max_bytes} bytes", param=param
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > policy.max_bytes:
            raise too_large
    return bytes(body)
