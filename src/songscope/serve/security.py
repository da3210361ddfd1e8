"""What keeps ``songscope serve`` safe to run: loopback by default, a bearer token beyond it, a
guard against other web sites driving the API through the user's browser, upload type sniffing
from the bytes, and names from requests that never become file-system paths.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import re
import secrets
from http.cookies import CookieError, SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

__all__ = ["TOKEN_COOKIE", "RequestGuard", "audio_type", "check_name", "is_loopback", "new_token"]

#: Cookie (and query parameter) that carries the token for pages and media elements.
TOKEN_COOKIE = "token"

#: Host names that reach only this machine.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True when ``host`` (a name or an IPv4/IPv6 address, brackets allowed) is this machine only."""
    host = host.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A random URL-safe token (32 bytes of entropy)."""
    return secrets.token_urlsafe(32)


#: What a plain name never holds: separators, NUL, or a drive prefix (``C:``).
_BAD_NAME = re.compile(r"[/\\\x00]|^[A-Za-z]:")


def check_name(text: str) -> str | None:
    """``text`` when it is a plain name (no ``..``, separator, NUL or absolute form), else None.

    Request parameters that name things (stems, assets, uploaded file names) go through this, and
    even then none is joined to a folder: names are looked up in fixed tables (the assets, a
    track's recorded stems) or only shown (an upload's name)."""
    if not text or ".." in text or _BAD_NAME.search(text):
        return None
    return text


# (offset, magic bytes, type) of the containers songscope decodes, read from the first bytes.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"ID3", "mp3"),
    (0, b"caff", "caf"),
    (0, b"\x1a\x45\xdf\xa3", "mka"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "wma"),
    (4, b"ftyp", "m4a"),
)
#: Bytes :func:`audio_type` needs to decide.
SNIFF_BYTES = 16


def audio_type(head: bytes) -> str | None:
    """The audio container of a file from its first bytes (at least :data:`SNIFF_BYTES`), never
    from its name: ``wav`` (RIFF/RF64/BW64 WAVE), ``aiff``, ``flac``, ``ogg``, ``mp3`` (ID3 tag or
    an MPEG audio frame header), ``aac`` (ADTS), ``m4a``, ``mka``, ``caf``, ``wma``; None otherwise."""
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    for offset, magic, kind in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return kind
    if len(head) >= 3 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
        bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
        if layer == 0 and head[1] & 0xF6 == 0xF0:
            return "aac"
        if version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3:
            return "mp3"
    return None


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RequestGuard:
    """ASGI middleware in front of every route.

    - With a token: a request must carry it (``Authorization: Bearer T``, the ``token`` cookie, or
      a ``token`` query parameter, which also sets the cookie so that the page's own requests and
      its audio elements carry it); otherwise 401.
    - Without a token (loopback only): the ``Host`` header must name this machine (403 otherwise),
      so a web page cannot reach the API by rebinding its own domain name to 127.0.0.1.
    - Always: a request whose ``Origin`` is another site than the one it was sent to is refused
      (403), so other web sites cannot upload or read through the user's browser.

    Args:
        app: the ASGI application. token: the required token, or None.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], token: str | None):
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        origin = headers.get("origin")
        if origin is not None and _netloc(origin) != host.lower():
            await _refuse(send, 403, "cross-site request refused")
            return
        if self.token is None:
            if not is_loopback(_hostname(host)):
                await _refuse(send, 403, "this server answers only requests addressed to this machine")
                return
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = (query.get(TOKEN_COOKIE) or [None])[0]
        cookie: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookie.load(headers.get("cookie", ""))
        offered = [headers.get("authorization", "").removeprefix("Bearer ").strip(), from_query,
                   cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None]
        if not any(value and hmac.compare_digest(value.encode(), self.token.encode()) for value in offered):
            await _refuse(send, 401, "missing or wrong token (send Authorization: Bearer TOKEN or open the "
                                     "page with ?token=TOKEN)", ((b"www-authenticate", b"Bearer"),))
            return
        if from_query is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                value = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", value.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _netloc(url: str) -> str | None:
    """``host[:port]`` of a URL (an ``Origin`` header), lower-case; None when it has none or is malformed."""
    try:
        return urlsplit(url).netloc.lower() or None
    except ValueError:
        return None


def _hostname(host: str) -> str:
    """The name or address in a ``Host`` header (port and IPv6 brackets removed); "" when malformed."""
    try:
        return urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return ""


async def _refuse(send: Send, status: int, detail: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
