"""SSRF-safe image fetching: blocked URL forms, pinning, redirects, size and time caps."""

import time
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

import httpx
import pytest

from locvlm.api.errors import GatewayTimeoutError, InvalidRequestError, PayloadTooLargeError
from locvlm.api.fetch import (
    FetchPolicy,
    IPAddress,
    embedded_ipv4,
    fetch_url,
    is_public_address,
    system_resolve,
)
from locvlm.api.settings import Settings

pytestmark = pytest.mark.anyio

STUB_DNS = {  # names an attacker controls, resolving where they like
    "metadata.google.internal": ["169.254.169.254"],
    "private.example": ["10.0.0.1"],
    "mixed.example": ["93.184.216.34", "10.0.0.1"],
    "mapped.example": ["::ffff:169.254.169.254"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "ula.example": ["fd00::1"],
    "public.example": ["93.184.216.34"],
}


async def stub_resolve(host: str, port: int) -> Sequence[IPAddress]:
    """The stub zone above; `localhost` from the real hosts file; nothing else is asked."""
    if host.rstrip(".") == "localhost":
        return await system_resolve(host, port)
    assert host in STUB_DNS, f"unexpected lookup of {host!r}"
    return [ip_address(a) for a in STUB_DNS[host]]


def no_network() -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """A client whose transport records what reaches it (nothing should) and fails."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(599)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), sent


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",  # loopback
        "http://127.0.0.1:6379/",  # loopback with a port (redis)
        "http://127.255.255.254/",  # loopback, top of 127/8
        "http://localhost/",  # localhost, resolved by the real hosts file
        "http://LOCALHOST./",  # localhost, upper case with the root dot
        "http://0.0.0.0/",  # unspecified (the local host on Linux)
        "http://[::]/",  # IPv6 unspecified
        "http://[::1]/",  # IPv6 loopback
        "http://[::1]:8000/",  # IPv6 loopback with a port
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback, dotted
        "http://[::ffff:7f00:1]/",  # IPv4-mapped loopback, hex
        "http://[::127.0.0.1]/",  # IPv4-compatible loopback
        "http://[::ffff:0:a00:1]/",  # IPv4-translated 10.0.0.1
        "http://10.0.0.1/",  # private 10/8
        "http://172.16.0.1/",  # private 172.16/12
        "http://172.31.255.255/",  # private 172.16/12, its top
        "http://192.168.1.1/",  # private 192.168/16
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
        "http://metadata.google.internal/computeMetadata/v1/",  # GCP metadata by name
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://198.18.0.1/",  # benchmarking
        "http://192.0.2.1/",  # documentation
        "http://192.0.0.170/",  # IETF protocol assignments (NAT64 discovery)
        "http://2130706433/",  # decimal loopback
        "http://0177.0.0.1/",  # octal loopback
        "http://0x7f.0.0.1/",  # hex octet loopback
        "http://0x7f000001/",  # hex integer loopback
        "http://127.1/",  # short form loopback
        "http://134744072/",  # decimal form even of a public address (8.8.8.8): ambiguous
        "http://[fe80::1]/",  # IPv6 link-local
        "http://[fe80::1%25eth0]/",  # IPv6 link-local with a zone
        "http://[fd00::1]/",  # IPv6 unique-local
        "http://224.0.0.1/",  # IPv4 multicast
        "http://[ff02::1]/",  # IPv6 multicast
        "http://255.255.255.255/",  # broadcast
        "http://240.0.0.1/",  # reserved
        "http://[2002:7f00:1::]/",  # 6to4 embedding loopback
        "http://[2002:a9fe:a9fe::]/",  # 6to4 embedding metadata
        "http://[64:ff9b::7f00:1]/",  # NAT64 embedding loopback
        "http://[64:ff9b::a00:1]/",  # NAT64 embedding 10.0.0.1
        "http://[64:ff9b:1::a00:1]/",  # local-use NAT64
        "http://[2001:db8::1]/",  # IPv6 documentation
        "http://[2001::1]/",  # Teredo
        "http://evil.com@127.0.0.1/",  # userinfo trick
        "http://127.0.0.1#@public.example/",  # fragment trick
        "http://private.example/",  # DNS name resolving to 10.0.0.1
        "http://mixed.example/",  # DNS name with one public and one private address
        "http://mapped.example/",  # DNS name resolving to IPv4-mapped metadata
        "http://127.0.0.1.nip.io/",  # wildcard DNS service
        "http://ula.example/",  # DNS name resolving to IPv6 unique-local
        "file:///etc/passwd",  # file scheme
        "gopher://127.0.0.1:6379/_INFO",  # gopher scheme
        "ftp://public.example/a.png",  # ftp scheme
        "dict://127.0.0.1:11211/stats",  # dict scheme
        "data:image/png;base64,iVBORw0KGgo=",  # data URL in the url field
        "http:///a.png",  # no host
        "not a url",  # not a URL
    ],
)
async def test_blocked_before_any_request(url: str) -> None:
    client, sent = no_network()
    policy = FetchPolicy(resolver=stub_resolve)
    with pytest.raises(InvalidRequestError) as info:
        await fetch_url(url, policy, client)
    assert info.value.status_code == 400
    assert info.value.param == "image.url"
    assert sent == []
    assert "10.0.0.1" not in info.value.message  # where a name points is not told


@pytest.mark.parametrize(
    "name",
    [
        "private.ssrf.invalid",  # hosts file: 10.0.0.1
        "metadata.ssrf.invalid",  # hosts file: 169.254.169.254
        "ula.ssrf.invalid",  # hosts file: fd00::1
        "mixed.ssrf.invalid",  # hosts file: a public and a private address
    ],
)
async def test_real_resolver_names_resolving_private_are_blocked(
    name: str, hosts_entries: dict[str, list[str]]
) -> None:
    resolved = {str(ip) for ip in await system_resolve(name, 80)}
    assert resolved == set(hosts_entries[name])  # every address comes back, not just one
    client, sent = no_network()
    with pytest.raises(InvalidRequestError, match="non-public"):
        await fetch_url(f"http://{name}/", FetchPolicy(), client)
    assert sent == []


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("8.8.8.8", True),  # public IPv4
        ("2606:4700:4700::1111", True),  # public IPv6
        ("::ffff:8.8.8.8", True),  # mapped public
        ("64:ff9b::808:808", True),  # NAT64 of a public address
        ("2002:808:808::", True),  # 6to4 of a public address
        ("::ffff:10.0.0.1", False),  # mapped private
        ("2002:c0a8:1::", False),  # 6to4 of 192.168.0.1
    ],
)
def test_is_public_address(ip: str, public: bool) -> None:
    assert is_public_address(ip_address(ip)) is public


def test_embedded_ipv4() -> None:
    assert embedded_ipv4(IPv6Address("64:ff9b::7f00:1")) == IPv4Address("127.0.0.1")
    assert embedded_ipv4(IPv6Address("2606:4700::1")) is None


async def test_fetches_from_the_checked_address(image_server, png_bytes, loopback_policy) -> None:
    assert await fetch_url(image_server.url("/image.png?direct"), loopback_policy) == png_bytes


async def test_connects_to_the_checked_ip_with_the_name_as_host(
    image_server, private_server, png_bytes, loopback_policy
) -> None:
    """DNS rebinding: the first answer is checked and used; later ones are never asked for."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ip_address(a) for a in next(answers)]

    port = image_server.base.rsplit(":", 1)[1]
    policy = FetchPolicy(resolver=rebinding, is_allowed_address=loopback_policy.is_allowed_address)
    assert await fetch_url(f"http://images.example:{port}/image.png?pin", policy) == png_bytes
    assert asked == ["images.example"]
    path, headers = image_server.hits[-1]
    assert path == "/image.png?pin"
    assert headers["Host"] == f"images.example:{port}"
    assert private_server.hits == []


async def test_https_is_pinned_with_sni_and_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(b"img"))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    policy = FetchPolicy(resolver=stub_resolve)
    assert await fetch_url("https://public.example:8443/a.png", policy, client) == b"img"
    (request,) = seen
    assert request.url.host == "93.184.216.34"
    assert request.headers["Host"] == "public.example:8443"
    assert request.extensions["sni_hostname"] == "public.example"


async def test_client_cookies_and_auth_stay_home(image_server, loopback_policy) -> None:
    async with httpx.AsyncClient(auth=("me", "secret"), cookies={"session": "s3"}) as client:
        await fetch_url(image_server.url("/image.png?home"), loopback_policy, client)
    _path, headers = image_server.hits[-1]
    assert "Authorization" not in headers
    assert "Cookie" not in headers


@pytest.mark.parametrize(
    "target",
    [
        "{private}/secret",  # another loopback address (an internal service)
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://private.example/",  # a name resolving to 10.0.0.1
        "http://[::1]/",  # IPv6 loopback
        "file:///etc/passwd",  # file scheme
        "http://2130706433/",  # decimal loopback
        "http://[::1",  # unparseable Location
    ],
)
async def test_redirects_to_private_are_blocked(
    target: str, image_server, private_server, loopback_policy
) -> None:
    location = target.format(private=private_server.base)
    policy = FetchPolicy(
        resolver=stub_resolve, is_allowed_address=loopback_policy.is_allowed_address
    )
    url = str(httpx.URL(image_server.url("/redirect"), params={"to": location}))
    with pytest.raises(InvalidRequestError) as info:
        await fetch_url(url, policy)
    assert info.value.status_code == 400
    assert private_server.hits == []


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirect_codes_are_followed(code, image_server, png_bytes, loopback_policy) -> None:
    url = str(httpx.URL(image_server.url("/redirect"), params={"to": "/image.png", "code": code}))
    assert await fetch_url(url, loopback_policy) == png_bytes


async def test_redirect_limit(image_server, png_bytes, loopback_policy) -> None:
    assert await fetch_url(image_server.url("/chain/3"), loopback_policy) == png_bytes
    with pytest.raises(InvalidRequestError, match="more than 3"):
        await fetch_url(image_server.url("/chain/4"), loopback_policy)


async def test_streamed_body_over_the_cap_is_413(image_server, loopback_policy) -> None:
    policy = FetchPolicy(max_bytes=1_000_000, is_allowed_address=loopback_policy.is_allowed_address)
    started = time.monotonic()
    with pytest.raises(PayloadTooLargeError) as info:
        await fetch_url(image_server.url("/huge?bytes=50000000"), policy)
    assert info.value.status_code == 413
    assert time.monotonic() - started < 5  # stopped early, not after 50 MB


async def test_declared_length_over_the_cap_is_413(image_server, loopback_policy) -> None:
    with pytest.raises(PayloadTooLargeError):
        await fetch_url(image_server.url("/huge-declared"), loopback_policy)


@pytest.mark.parametrize(
    "path",
    [
        "/slow?s=3",  # no answer at all
        "/drip",  # a byte every 50 ms: each read is quick, the body is not
    ],
)
async def test_slow_servers_time_out_as_504(path: str, image_server, loopback_policy) -> None:
    policy = FetchPolicy(timeout_s=0.5, is_allowed_address=loopback_policy.is_allowed_address)
    started = time.monotonic()
    with pytest.raises(GatewayTimeoutError) as info:
        await fetch_url(image_server.url(path), policy)
    assert info.value.status_code == 504
    assert info.value.param == "image.url"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/status/404", "HTTP 404"),  # not found
        ("/status/500", "HTTP 500"),  # server error
        ("/redirect?to=&code=300", "HTTP 300"),  # a 3xx that is no redirect
        ("/gzip", "compressed"),  # a compressed body despite Accept-Encoding: identity
    ],
)
async def test_failed_answers_are_400(path, message, image_server, loopback_policy) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        await fetch_url(image_server.url(path), loopback_policy)


async def test_connection_refused_is_400(loopback_policy) -> None:
    with pytest.raises(InvalidRequestError, match="could not fetch") as info:
        await fetch_url("http://127.0.0.1:1/", loopback_policy)
    assert "Errno" not in info.value.message


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://public.example/a.png", True),  # exact name
        ("http://cdn.public.example/a.png", False),  # subdomain of an exact entry
        ("http://img.example.org/a.png", True),  # subdomain of a wildcard entry
        ("http://example.org/a.png", False),  # a wildcard entry's own name
        ("http://evil.com/a.png", False),  # not listed
        ("http://public.example.evil.com/a.png", False),  # listed name as a prefix
    ],
)
async def test_domain_allowlist(url: str, allowed: bool) -> None:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=httpx.ByteStream(b"")))
    )
    policy = FetchPolicy(allowed_domains=("public.example", "*.example.org"), resolver=resolve_any)
    if allowed:
        assert await fetch_url(url, policy, client) == b""
    else:
        with pytest.raises(InvalidRequestError, match="allowlist"):
            await fetch_url(url, policy, client)


async def resolve_any(host: str, port: int) -> list[IPAddress]:
    return [ip_address("93.184.216.34")]


async def test_allowlist_does_not_skip_address_checks() -> None:
    client, sent = no_network()
    policy = FetchPolicy(allowed_domains=("private.example",), resolver=stub_resolve)
    with pytest.raises(InvalidRequestError, match="non-public"):
        await fetch_url("http://private.example/", policy, client)
    assert sent == []


async def test_policy_from_settings(image_server, png_bytes) -> None:
    url = image_server.url("/image.png?settings")
    with pytest.raises(InvalidRequestError, match="non-public"):
        await fetch_url(url, FetchPolicy.from_settings(Settings()))
    open_policy = FetchPolicy.from_settings(Settings(allow_private_urls=True))
    assert await fetch_url(url, open_policy) == png_bytes
    strict = Settings(url_allowed_domains=["cdn.example"], max_fetch_bytes=5, fetch_timeout_s=1.5)
    policy = FetchPolicy.from_settings(strict)
    assert (policy.allowed_domains, policy.max_bytes, policy.timeout_s) == (
        ("cdn.example",),
        5,
        1.5,
    )
