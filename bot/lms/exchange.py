"""One HTTP exchange with an LMS, bounded: a total deadline, a size cap, no redirects.

httpx's timeouts are per read, so a server trickling a byte every few seconds never trips them. Here the whole
exchange — connect, headers, every byte of the body — runs under one `asyncio.timeout`, the body is streamed
and refused once it passes the cap (a 50 MB answer is never held in memory), and a 3xx is refused rather than
followed (a redirect could send our token to another host). Token requests and API calls both come here.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import httpx

from bot.lms.errors import DeadlineExceededError, InvalidResponseError, UnreachableError
from bot.lms.pool import PooledClient, aiohttp_errors

# Only encodings we can decompress with a bound; br/zstd are not offered even if their libraries are installed.
ACCEPT_ENCODING = "gzip, deflate"
_DROPPED_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
_DROPPED_RAW = {name.encode() for name in _DROPPED_HEADERS}


@dataclass(frozen=True, slots=True)
class HttpLimits:
    deadline: float = 30.0  # seconds for a whole call (LMS_CALL_DEADLINE_SECONDS)
    max_bytes: int = 20 * 1024 * 1024  # of a body, decompressed (LMS_MAX_RESPONSE_BYTES)


def too_slow(limits: HttpLimits | float, *, provider: str, endpoint: str | None) -> DeadlineExceededError:
    seconds = limits.deadline if isinstance(limits, HttpLimits) else limits
    return DeadlineExceededError(f"no complete answer within {seconds:g} s", provider=provider, endpoint=endpoint)


async def exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    limits: HttpLimits,
    provider: str,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send the request and read the whole answer within `limits`; the response returned is fully read."""
    all_headers = {"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}
    pooled = http if isinstance(http, PooledClient) and _plain(kwargs) else None
    session = pooled.direct() if pooled is not None else None
    try:
        async with asyncio.timeout(limits.deadline):
            if pooled is not None and session is not None:
                return await _direct(
                    session, pooled, method, url, all_headers, limits.max_bytes, provider, endpoint, **kwargs
                )
            request = http.build_request(method, url, headers=all_headers, **kwargs)
            response = await http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect or 300 <= response.status_code < 400:
                    location = response.headers.get("location", "")
                    raise InvalidResponseError(
                        _redirect(response.status_code, location), provider=provider, endpoint=endpoint
                    )
                body = await _read_capped(response, limits.max_bytes, provider, endpoint)
            finally:
                await response.aclose()
    except TimeoutError:
        raise too_slow(limits, provider=provider, endpoint=endpoint) from None
    except httpx.TimeoutException as exc:
        raise UnreachableError(
            f"timed out waiting for an answer ({type(exc).__name__})", provider=provider, endpoint=endpoint
        ) from exc
    except httpx.TransportError as exc:
        raise UnreachableError(
            f"could not connect ({type(exc).__name__})", provider=provider, endpoint=endpoint
        ) from exc
    kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=kept,
        content=body,
        request=response.request,
        extensions={k: v for k, v in response.extensions.items() if k in ("http_version", "reason_phrase")},
    )


def _plain(kwargs: dict[str, Any]) -> bool:
    """Whether a request's arguments are ones `_direct` sends as httpx would (query pairs, a form, JSON)."""
    if not kwargs.keys() <= {"params", "data", "json"}:
        return False
    params, data = kwargs.get("params"), kwargs.get("data")
    return isinstance(params, Mapping | list | tuple | None) and isinstance(data, Mapping | None)


def _pairs(values: Mapping[str, Any] | list[Any] | tuple[Any, ...]) -> list[tuple[str, str]]:
    """Query or form pairs as httpx encodes them: a list value repeats its key; True is "true", None ""."""
    items = values.items() if isinstance(values, Mapping) else values
    return [
        (str(key), _primitive(v))
        for key, value in items
        for v in (value if isinstance(value, list | tuple) else [value])
    ]


def _primitive(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


async def _direct(
    session: aiohttp.ClientSession,
    http: PooledClient,
    method: str,
    url: str,
    headers: dict[str, str],
    cap: int,
    provider: str,
    endpoint: str | None,
    *,
    params: Mapping[str, Any] | list[Any] | tuple[Any, ...] | None = None,
    data: Mapping[str, Any] | None = None,
    json: Any = None,
) -> httpx.Response:
    """The exchange on the pool's aiohttp session: the request httpx would have sent (the client's headers, the
    query, form or JSON body encoded alike), the answer read within `cap` (not decompressed by aiohttp)."""
    sent = {name.lower(): value for name, value in http.headers.items()}
    sent.update((name.lower(), value) for name, value in headers.items())
    if params:
        url += ("&" if "?" in url else "?") + urlencode(_pairs(params))
    content: bytes | None = None
    if data:
        content = urlencode(_pairs(data)).encode()
        sent["content-type"] = "application/x-www-form-urlencoded"
    elif json is not None:
        content = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        sent["content-type"] = "application/json"
    with aiohttp_errors():
        async with session.request(
            method,
            url,
            headers=sent,
            data=content,
            allow_redirects=False,
            auto_decompress=False,
            timeout=http.aiohttp_timeout,
        ) as answer:
            if 300 <= answer.status < 400:
                location = answer.headers.get("location", "")
                raise InvalidResponseError(_redirect(answer.status, location), provider=provider, endpoint=endpoint)
            body = await _read_stream(
                answer.content.iter_any(),
                answer.headers.get("content-length", ""),
                answer.headers.get("content-encoding", "identity"),
                cap,
                provider,
                endpoint,
            )
    extensions = {"http_version": b"HTTP/1.1"}
    if answer.reason:
        extensions["reason_phrase"] = answer.reason.encode()
    kept = [(k, v) for k, v in answer.raw_headers if k.lower() not in _DROPPED_RAW]
    return httpx.Response(answer.status, headers=kept, content=body, extensions=extensions)


def _too_large(cap: int, provider: str, endpoint: str | None) -> InvalidResponseError:
    return InvalidResponseError(
        f"it is larger than {_size(cap)} (LMS_MAX_RESPONSE_BYTES)", provider=provider, endpoint=endpoint
    )


async def _read_capped(response: httpx.Response, cap: int, provider: str, endpoint: str | None) -> bytes:
    try:  # already read (a transport that answers from memory, as tests' MockTransport does)
        held: bytes | None = response.content
    except httpx.ResponseNotRead:
        held = None
    if held is not None:
        if len(held) > cap:
            raise _too_large(cap, provider, endpoint)
        return held
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity")
    return await _read_stream(response.aiter_raw(), declared, encoding, cap, provider, endpoint)


async def _read_stream(
    chunks: AsyncIterator[bytes], declared: str, encoding: str, cap: int, provider: str, endpoint: str | None
) -> bytes:
    """The body from its raw chunks, decompressed with a bound; refused once it passes `cap`."""

    def too_large() -> InvalidResponseError:
        return _too_large(cap, provider, endpoint)

    encoding = encoding.strip().lower()
    if declared.isdigit() and encoding == "identity" and int(declared) > cap:
        raise too_large()
    decoder = _decoder(encoding, provider, endpoint)
    body = bytearray()
    async for raw in chunks:
        try:
            chunk = decoder.decompress(raw, cap - len(body) + 1) if decoder else raw
        except zlib.error:
            raise InvalidResponseError("its compressed body is corrupt", provider=provider, endpoint=endpoint) from None
        body += chunk
        if len(body) > cap or (decoder is not None and decoder.unconsumed_tail):
            raise too_large()
    if decoder is not None:
        try:
            body += decoder.flush()
        except zlib.error:
            raise InvalidResponseError("its compressed body is corrupt", provider=provider, endpoint=endpoint) from None
        if len(body) > cap:
            raise too_large()
    return bytes(body)


def _decoder(encoding: str, provider: str, endpoint: str | None) -> Any:
    """A bounded decompressor (max_length per chunk, so a small "zip bomb" cannot expand in memory)."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    raise InvalidResponseError(
        f"it is compressed as {encoding!r}, which lmsbot did not ask for", provider=provider, endpoint=endpoint
    )


def _redirect(status: int, target: str) -> str:
    host = urlsplit(target).netloc or "the same host"
    return f"it redirected (HTTP {status}) to {host}; lmsbot does not follow redirects"


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    if n >= 1024:
        return f"{n / 1024:g} KB"
    return f"{n} bytes"
