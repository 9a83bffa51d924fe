"""A hostile LMS on 127.0.0.1: one mode per way a slow or malicious server can hurt a client.

Raw asyncio sockets in a background thread (not an ASGI app) so it can misbehave below HTTP too: trickle the
status line and headers a byte at a time, hold a connection open, stream a body that never ends. Token
requests (`.../token`) get a valid token unless `hostile_tokens` is set, so the API answer is what is tested.
Every misbehaviour is bounded in time and bytes, and stops when the client hangs up.

Used by the tests (tests/test_hostile_lms.py) and by bench/hostile_lms.py.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType


class Mode(StrEnum):
    HEALTHY = "healthy"  # small valid answers (empty lists)
    SLOWLORIS = "slowloris"  # headers and body trickled one byte at a time, forever (bounded)
    ENDLESS_PAGES = "endless-pages"  # a full page with a new page token, every time
    REPEATED_TOKEN = "repeated-token"  # the same page token, every time
    HUGE_BODY = "huge-body"  # 50 MB, chunked, no Content-Length
    GZIP_BOMB = "gzip-bomb"  # 50 MB of JSON padding in about 50 KB of gzip
    REDIRECT = "redirect"  # 302 to another port on this host
    XML_ENTITIES = "xml-entities"  # "billion laughs"
    JSON_BIG_INT = "json-big-int"  # a 100,000-digit integer
    JSON_INFINITY = "json-infinity"  # 1e999999
    JSON_DEEP = "json-deep"  # 100,000 levels of nesting
    HTML_200 = "html-200"  # a web page (a login or maintenance page) with HTTP 200
    ERROR_200 = "error-200"  # an error body with HTTP 200


CONTENT_MODES = (
    Mode.XML_ENTITIES,
    Mode.JSON_BIG_INT,
    Mode.JSON_INFINITY,
    Mode.JSON_DEEP,
    Mode.HTML_200,
    Mode.ERROR_200,
)
HUGE_BYTES = 50 * 1024 * 1024
TRICKLE_LIMIT_SECONDS = 120.0  # a slowloris connection is dropped after this even if the client never gives up

_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    + b"]>\n<response><results><result><userId>&lol9;</userId></result></results></response>"
)


@dataclass
class Seen:
    """What the hostile server saw: requests (method, path) and when each connection ended."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    first_request_at: float | None = None
    closed_at: list[float] = field(default_factory=list)


class HostileLms:
    """`with HostileLms(Mode.SLOWLORIS) as lms:` then point ZOHO_PEOPLE_URL / ISPRING_API_URL at `lms.url`.

    `mode` may be changed while it runs. `trickle_interval`: seconds between trickled bytes.
    """

    def __init__(
        self, mode: Mode = Mode.HEALTHY, *, hostile_tokens: bool = False, trickle_interval: float = 0.25
    ) -> None:
        self.mode = mode
        self.hostile_tokens = hostile_tokens
        self.trickle_interval = trickle_interval
        self.seen = Seen()
        self.port = 0
        self.other_port = 0  # where REDIRECT points: a second listener that answers healthily
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._tokens = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ispring_url(self) -> str:
        return self.url + "/ispring"

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> HostileLms:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="hostile-lms", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile LMS did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> HostileLms:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        main = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        other = await asyncio.start_server(self._serve_other, "127.0.0.1", 0)
        self.port = main.sockets[0].getsockname()[1]
        self.other_port = other.sockets[0].getsockname()[1]
        self._ready.set()
        async with main, other:
            await self._stop.wait()
            main.close()
            other.close()

    # --- requests -------------------------------------------------------------------------------------------

    async def _serve_other(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._handle(reader, writer, force_healthy=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._handle(reader, writer, force_healthy=False)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, force_healthy: bool) -> None:
        try:
            while True:  # keep-alive: one request after another on this connection
                request = await _read_request(reader)
                if request is None:
                    return
                method, path = request
                self.seen.requests.append((method, path))
                if self.seen.first_request_at is None:
                    self.seen.first_request_at = time.time()
                token_request = path.split("?")[0].endswith("/token")
                mode = self.mode
                if force_healthy or (token_request and not self.hostile_tokens):
                    mode = Mode.HEALTHY
                if not await self._answer(writer, mode, path, token_request):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.seen.closed_at.append(time.time())
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, mode: Mode, path: str, token_request: bool) -> bool:
        """Send one answer; False when the connection must end afterwards."""
        if token_request and mode is Mode.HEALTHY:
            n = next(self._tokens)
            body = json.dumps({"access_token": f"hostile-{n}", "expires_in": 3600, "token_type": "Bearer"})
            return await _send(writer, 200, "application/json", body.encode())
        ispring = "/ispring" in path
        if mode is Mode.HEALTHY:
            if ispring:
                return await _send(writer, 200, "application/xml", b"<response><results/></response>")
            return await _send(writer, 200, "application/json", b'{"response": {"result": []}}')
        if mode is Mode.SLOWLORIS:
            await self._trickle(writer)
            return False
        if mode in (Mode.ENDLESS_PAGES, Mode.REPEATED_TOKEN):
            token = "same" if mode is Mode.REPEATED_TOKEN else f"page-{next(self._tokens)}"
            if ispring:
                body = (
                    "<response><results><result><userId>u1</userId><courseId>c1</courseId>"
                    f"<moduleId>m-{token}</moduleId><completionStatus>not_started</completionStatus>"
                    f"</result></results><nextPageToken>{token}</nextPageToken></response>"
                ).encode()
                return await _send(writer, 200, "application/xml", body)
            items = [{"courseId": f"{token}-{i}", "courseName": "Endless"} for i in range(25)]
            payload = {"response": {"result": items}, "hasMoreRecords": True}
            return await _send(writer, 200, "application/json", json.dumps(payload).encode())
        if mode is Mode.HUGE_BODY:
            await self._huge(writer, ispring)
            return False
        if mode is Mode.GZIP_BOMB:
            kind = "application/xml" if ispring else "application/json"
            return await _send(writer, 200, kind, bomb(), extra=[("Content-Encoding", "gzip")])
        if mode is Mode.REDIRECT:
            location = f"http://127.0.0.1:{self.other_port}{path}"
            return await _send(writer, 302, "text/plain", b"moved", extra=[("Location", location)])
        return await _send(writer, 200, *_content(mode, ispring))

    async def _trickle(self, writer: asyncio.StreamWriter) -> None:
        """One byte per interval: the status line, headers, then a body that never completes."""
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        data = itertools.chain(head, itertools.repeat(ord(" ")))
        ends = time.monotonic() + TRICKLE_LIMIT_SECONDS
        for byte in data:
            if time.monotonic() > ends or writer.is_closing():
                return
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(self.trickle_interval)

    async def _huge(self, writer: asyncio.StreamWriter, ispring: bool) -> None:
        kind = "application/xml" if ispring else "application/json"
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b" " * 65536
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for _ in range(HUGE_BYTES // len(chunk)):
            if writer.is_closing():
                return
            writer.write(framed)
            await writer.drain()  # raises ConnectionResetError once the client hangs up
        writer.write(b"0\r\n\r\n")
        await writer.drain()


@functools.cache
def bomb() -> bytes:
    return gzip.compress(b" " * HUGE_BYTES, compresslevel=9)


def _content(mode: Mode, ispring: bool) -> tuple[str, bytes]:
    if mode is Mode.XML_ENTITIES:
        return "application/xml", _LAUGHS
    if mode is Mode.JSON_BIG_INT:
        return "application/json", b'{"response": {"result": [{"courseId": ' + b"9" * 100_000 + b"}]}}"
    if mode is Mode.JSON_INFINITY:
        return "application/json", b'{"response": {"result": [{"courseId": "c1", "duration": 1e999999}]}}'
    if mode is Mode.JSON_DEEP:
        return "application/json", b'{"response": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    if mode is Mode.HTML_200:
        return "text/html", b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>"
    if mode is Mode.ERROR_200:
        if ispring:
            return "application/xml", b"<error><code>PERMISSION_DENIED</code><message>Access denied</message></error>"
        return "application/json", b'{"code": 500, "message": "Internal error, please retry later"}'
    raise AssertionError(mode)


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return method, path


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: str,
    body: bytes,
    *,
    extra: list[tuple[str, str]] | None = None,
) -> bool:
    reason = {200: "OK", 302: "Found"}.get(status, "Status")
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])]
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    return True
