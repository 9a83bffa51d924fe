"""One HTTP exchange with an LMS, bounded: a total deadline, a size cap, no redirects.

httpx's timeouts are per read, so a server trickling a byte every few seconds never trips them. Here the whole
exchange — connect, headers, every byte of the body — runs under one `asyncio.timeout`, the body is streamed
and refused once it passes the cap (a 50 MB answer is never held in memory), and a 3xx is refused rather than
followed (a redirect could send our token to another host). Token requests and API calls both come here.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.lms.errors import DeadlineExceededError, InvalidResponseError, UnreachableError

# Only encodings we can decompress with a bound; br/zstd are not offered even if their libraries are installed.
ACCEPT_ENCODING = "gzip, deflate"
_DROPPED_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


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
    try:
        async with asyncio.timeout(limits.deadline):
            request = http.build_request(method, url, headers=all_headers, **kwargs)
            response = await http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect or 300 <= response.status_code < 400:
                    raise InvalidResponseError(_redirect(response), provider=provider, endpoint=endpoint)
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


async def _read_capped(response: httpx.Response, cap: int, provider: str, endpoint: str | None) -> bytes:
    def too_large() -> InvalidResponseError:
        return InvalidResponseError(
            f"it is larger than {_size(cap)} (LMS_MAX_RESPONSE_BYTES)", provider=provider, endpoint=endpoint
        )

    try:  # already read (a transport that answers from memory, as tests' MockTransport does)
        held: bytes | None = response.content
    except httpx.ResponseNotRead:
        held = None
    if held is not None:
        if len(held) > cap:
            raise too_large()
        return held
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if declared.isdigit() and encoding == "identity" and int(declared) > cap:
        raise too_large()
    decoder = _decoder(encoding, provider, endpoint)
    body = bytearray()
    async for raw in response.aiter_raw():
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


def _redirect(response: httpx.Response) -> str:
    target = response.headers.get("location", "")
    host = urlsplit(target).netloc or "the same host"
    return f"it redirected (HTTP {response.status_code}) to {host}; lmsbot does not follow redirects"


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    if n >= 1024:
        return f"{n / 1024:g} KB"
    return f"{n} bytes"
