"""LMS connections per workspace: URLs and client id in clear, every secret encrypted with the keyring."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import Keyring
from storage.db import Database
from storage.models import ProviderConnectionRow
from storage.repositories._common import Now, Provider, Repository, check_provider, rowcount


@dataclass(frozen=True, slots=True)
class ProviderConnection:
    team_id: str
    provider: Provider
    data_center: str | None
    api_url: str
    accounts_url: str | None
    client_id: str
    client_secret: SecretStr | None
    refresh_token: SecretStr | None
    access_token: SecretStr | None
    access_token_expires_at: datetime | None
    scopes: str | None
    connected_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAccessToken:
    value: str
    expires_at: datetime
    scope: str | None

    def __repr__(self) -> str:  # never print the secret
        return f"StoredAccessToken(expires_at={self.expires_at!r}, scope={self.scope!r})"


# Changing any of these means a different grant: a cached access token from the old one must go.
_IDENTITY_FIELDS = ("api_url", "accounts_url", "client_id", "client_secret", "refresh_token")


class ConnectionRepository(Repository):
    def __init__(self, db: Database, keyring: Keyring, *, clock: Now | None = None) -> None:
        super().__init__(db, clock=clock)
        self.keyring = keyring

    async def get(self, team_id: str, provider: str) -> ProviderConnection | None:
        provider = check_provider(provider)
        async with self.db.transaction(write=False) as session:
            row = await self._row(session, team_id, provider)
            return self._to_record(row) if row else None

    async def list(self, team_id: str | None = None) -> builtins.list[ProviderConnection]:
        query = select(ProviderConnectionRow).order_by(ProviderConnectionRow.team_id, ProviderConnectionRow.provider)
        if team_id is not None:
            query = query.where(ProviderConnectionRow.team_id == team_id)
        async with self.db.transaction(write=False) as session:
            return [self._to_record(row) for row in (await session.scalars(query)).all()]

    async def save_zoho(
        self,
        team_id: str,
        *,
        data_center: str | None,
        api_url: str,
        accounts_url: str,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        scopes: str | None,
        connected_by: str | None,
    ) -> ProviderConnection:
        """Create or replace the Zoho connection. `client_secret=None`: the secret is not kept in the
        database (it comes from ZOHO_CLIENT_SECRET)."""
        return await self._save(
            team_id,
            "zoho",
            {
                "data_center": data_center,
                "api_url": api_url.rstrip("/"),
                "accounts_url": accounts_url.rstrip("/"),
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
                "scopes": scopes,
                "connected_by": connected_by,
            },
        )

    async def save_ispring(
        self, team_id: str, *, api_url: str, client_id: str, client_secret: str, connected_by: str | None
    ) -> ProviderConnection:
        return await self._save(
            team_id,
            "ispring",
            {
                "data_center": None,
                "api_url": api_url.rstrip("/"),
                "accounts_url": None,
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": None,
                "scopes": None,
                "connected_by": connected_by,
            },
        )

    async def save_access_token(
        self, team_id: str, provider: str, token: str, expires_at: datetime, scope: str | None = None
    ) -> bool:
        """Cache an access token (encrypted). False when nothing changed or there is no such connection."""
        provider = check_provider(provider)
        async with self.db.transaction(locks=[_lock(team_id, provider)]) as session:
            row = await self._row(session, team_id, provider)
            if row is None:
                return False
            current = self._decrypt(row.access_token_enc)
            if (
                current == token
                and row.access_token_expires_at == expires_at
                and (scope is None or row.scopes == scope)
            ):
                return False
            row.access_token_enc = self.keyring.encrypt(token)
            row.access_token_expires_at = expires_at
            if scope is not None:
                row.scopes = scope
            row.updated_at = self.now()
            return True

    async def load_access_token(self, team_id: str, provider: str) -> StoredAccessToken | None:
        """Only the cached access token (decrypts one value, not all of them: this runs before every call)."""
        provider = check_provider(provider)
        query = select(
            ProviderConnectionRow.access_token_enc,
            ProviderConnectionRow.access_token_expires_at,
            ProviderConnectionRow.scopes,
        ).where(ProviderConnectionRow.team_id == team_id, ProviderConnectionRow.provider == provider)
        async with self.db.transaction(write=False) as session:
            found = (await session.execute(query)).first()
        if found is None or found.access_token_enc is None or found.access_token_expires_at is None:
            return None
        return StoredAccessToken(
            self.keyring.decrypt(found.access_token_enc), found.access_token_expires_at, found.scopes
        )

    async def clear_access_token(self, team_id: str, provider: str) -> bool:
        provider = check_provider(provider)
        async with self.db.transaction(locks=[_lock(team_id, provider)]) as session:
            row = await self._row(session, team_id, provider)
            if row is None or (row.access_token_enc is None and row.access_token_expires_at is None):
                return False
            row.access_token_enc = None
            row.access_token_expires_at = None
            row.updated_at = self.now()
            return True

    async def delete(self, team_id: str, provider: str) -> bool:
        provider = check_provider(provider)
        async with self.db.transaction(locks=[_lock(team_id, provider)]) as session:
            result = await session.execute(
                delete(ProviderConnectionRow).where(
                    ProviderConnectionRow.team_id == team_id, ProviderConnectionRow.provider == provider
                )
            )
            return rowcount(result) > 0

    async def _save(self, team_id: str, provider: Provider, wanted: dict[str, Any]) -> ProviderConnection:
        async with self.db.transaction(locks=[_lock(team_id, provider)]) as session:
            row = await self._row(session, team_id, provider)
            now = self.now()
            if row is None:
                row = ProviderConnectionRow(team_id=team_id, provider=provider, created_at=now, updated_at=now)
                self._apply(row, wanted)
                session.add(row)
                await session.flush()
                return self._to_record(row)
            current = self._plain(row)
            changed = {name: value for name, value in wanted.items() if current[name] != value}
            if not changed:
                return self._to_record(row)
            self._apply(row, changed)
            if any(name in changed for name in _IDENTITY_FIELDS):
                row.access_token_enc = None
                row.access_token_expires_at = None
            row.updated_at = now
            await session.flush()
            return self._to_record(row)

    def _apply(self, row: ProviderConnectionRow, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in ("client_secret", "refresh_token"):
                setattr(row, f"{name}_enc", self._encrypt(value))
            else:
                setattr(row, name, value)

    def _plain(self, row: ProviderConnectionRow) -> dict[str, Any]:
        return {
            "data_center": row.data_center,
            "api_url": row.api_url,
            "accounts_url": row.accounts_url,
            "client_id": row.client_id,
            "client_secret": self._decrypt(row.client_secret_enc),
            "refresh_token": self._decrypt(row.refresh_token_enc),
            "scopes": row.scopes,
            "connected_by": row.connected_by,
        }

    @staticmethod
    async def _row(session: AsyncSession, team_id: str, provider: str) -> ProviderConnectionRow | None:
        query = select(ProviderConnectionRow).where(
            ProviderConnectionRow.team_id == team_id, ProviderConnectionRow.provider == provider
        )
        row: ProviderConnectionRow | None = (await session.scalars(query)).one_or_none()
        return row

    def _encrypt(self, value: str | None) -> str | None:
        return None if value is None else self.keyring.encrypt(value)

    def _decrypt(self, value: str | None) -> str | None:
        return None if value is None else self.keyring.decrypt(value)

    def _secret(self, value: str | None) -> SecretStr | None:
        return None if value is None else SecretStr(self.keyring.decrypt(value))

    def _to_record(self, row: ProviderConnectionRow) -> ProviderConnection:
        return ProviderConnection(
            team_id=row.team_id,
            provider=check_provider(row.provider),
            data_center=row.data_center,
            api_url=row.api_url,
            accounts_url=row.accounts_url,
            client_id=row.client_id,
            client_secret=self._secret(row.client_secret_enc),
            refresh_token=self._secret(row.refresh_token_enc),
            access_token=self._secret(row.access_token_enc),
            access_token_expires_at=row.access_token_expires_at,
            scopes=row.scopes,
            connected_by=row.connected_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _lock(team_id: str, provider: str) -> str:
    return f"connection:{team_id}:{provider}"
