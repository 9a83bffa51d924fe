"""/readyz (the worker's, and the web process's: the same probe): 200 only when the database answers, its schema
is at the migrations' head and the configured keys decrypt what is stored; 503 naming what is wrong otherwise.
/healthz stays liveness (200 while the process runs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.container import Services, build_services
from bot.observability import ops_app
from storage import migrate
from storage.crypto import Keyring

Probe = Callable[..., Awaitable[tuple[Services, httpx.AsyncClient]]]


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[Probe]:
    made: list[tuple[Services, httpx.AsyncClient]] = []

    async def make(*, database_url: str | None = None, key: str | None = None, migrated: bool = True) -> Any:
        url = database_url or f"sqlite:///{tmp_path / f'db{len(made)}.sqlite'}"
        if migrated and database_url is None:
            migrate.upgrade(url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            lmsbot_env="development",
            lmsbot_encryption_keys=key or Keyring.generate_key(),
        )
        services = build_services(settings)
        app = ops_app(services, lambda: {"role": "standby"})
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker")
        made.append((services, client))
        return services, client

    yield make
    for services, client in made:
        await client.aclose()
        await services.aclose()


async def save_zoho_connection(services: Services) -> None:
    await services.connections_repo.save_zoho(
        "T1",
        data_center="eu",
        api_url="https://people.zoho.eu",
        accounts_url="https://accounts.zoho.eu",
        client_id="1000.CLIENT",
        client_secret="client-secret-value",
        refresh_token="1000.aaaaaaaaaa.bbbbbbbbbb",
        scopes=None,
        connected_by="U1",
    )


async def test_ready_when_the_database_schema_and_keys_are_good(worker: Probe) -> None:
    services, client = await worker()
    await save_zoho_connection(services)
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ok": True,
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "encryption_keys": "ok"},
    }
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["role"] == "standby"


async def test_not_ready_before_migrations_and_after_a_downgrade(worker: Probe, tmp_path: Path) -> None:
    _, client = await worker(migrated=False)
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["reason"].startswith("migrations: the database has no lmsbot tables yet; run `lmsbot db")

    url = f"sqlite:///{tmp_path / 'behind.sqlite'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "0005")
    _, behind = await worker(database_url=url)
    body = (await behind.get("/readyz")).json()
    assert body["ok"] is False
    assert body["checks"]["migrations"] == (
        f"the database is at revision 0005, this lmsbot needs {migrate.head()}; run `lmsbot db upgrade`"
    )


async def test_not_ready_when_the_key_cannot_decrypt_stored_credentials(worker: Probe, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    migrate.upgrade(url)
    writer, _ = await worker(database_url=url)
    await save_zoho_connection(writer)
    _, client = await worker(database_url=url, key=Keyring.generate_key())  # a different key
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
    assert body["reason"].startswith("encryption_keys: LMSBOT_ENCRYPTION_KEYS cannot decrypt 2 of the 2 stored")
    assert "client-secret-value" not in answer.text and "bbbbbbbbbb" not in answer.text
    assert (await client.get("/healthz")).status_code == 200  # alive all the same


async def test_not_ready_while_the_database_is_unreachable(worker: Probe) -> None:
    # Nothing listens on port 1: refused at once.
    _, client = await worker(database_url="postgresql://lmsbot@127.0.0.1:1/lmsbot", migrated=False)
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["reason"].startswith("database: unavailable (")
    assert body["checks"]["migrations"] == "not checked (database unavailable)"
