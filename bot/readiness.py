"""`/readyz`: whether this process can do its work — the database answers, its schema is at the migrations'
head, and the configured encryption keys decrypt the stored credentials. (`/healthz` is liveness: the process
answers, even while the database is away.)

The database is asked at every probe. The schema and the keys, once found good, are trusted for `ttl` seconds
(a probe every few seconds must not decrypt every stored secret each time); a failure is re-checked at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from storage import migrate
from storage.crypto import Keyring
from storage.db import Database
from storage.errors import DecryptionError, unavailable_cause
from storage.rotation import check_keys

CHECK_TIMEOUT_SECONDS = 5.0  # each check: a probe must answer even when the database hangs
GOOD_FOR_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)  # name -> "ok" or what is wrong

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())

    @property
    def reason(self) -> str | None:
        return next((f"{name}: {value}" for name, value in self.checks.items() if value != "ok"), None)

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": self.ready, "status": "ready" if self.ready else "not ready"}
        if not self.ready:
            body["reason"] = self.reason
        body["checks"] = dict(self.checks)
        return body


class ReadinessProbe:
    def __init__(
        self, db: Database, keyring: Keyring, *, ttl: float = GOOD_FOR_SECONDS, timeout: float = CHECK_TIMEOUT_SECONDS
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.ttl = ttl
        self.timeout = timeout
        self._good_until: dict[str, float] = {}
        self._head = migrate.head()

    async def check(self) -> Readiness:
        checks: dict[str, str] = {"database": await self._database()}
        if checks["database"] != "ok":
            checks["migrations"] = checks["encryption_keys"] = "not checked (database unavailable)"
            return Readiness(checks)
        checks["migrations"] = await self._cached("migrations", self._migrations)
        checks["encryption_keys"] = await self._cached("encryption_keys", self._keys)
        return Readiness(checks)

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(self.timeout), self.db.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - reported as the reason, never raised from a probe
            return "unavailable (" + (unavailable_cause(exc) or f"{type(exc).__name__}: {exc}") + ")"
        return "ok"

    async def _cached(self, name: str, check: Callable[[], Awaitable[str]]) -> str:
        if self._good_until.get(name, 0.0) > time.monotonic():
            return "ok"
        try:
            async with asyncio.timeout(self.timeout):
                result = await check()
        except TimeoutError:
            result = f"no answer within {self.timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - reported as the reason
            result = unavailable_cause(exc) or f"{type(exc).__name__}: {exc}"
        if result == "ok":
            self._good_until[name] = time.monotonic() + self.ttl
        else:
            self._good_until.pop(name, None)
        return result

    async def _migrations(self) -> str:
        have = await asyncio.to_thread(migrate.current, self.db.url)
        if have == self._head:
            return "ok"
        if have is None:
            return f"the database has no lmsbot tables yet; run `lmsbot db upgrade` (head is {self._head})"
        return f"the database is at revision {have}, this lmsbot needs {self._head}; run `lmsbot db upgrade`"

    async def _keys(self) -> str:
        try:
            await check_keys(self.db, self.keyring)
        except DecryptionError as exc:
            return str(exc)
        return "ok"
