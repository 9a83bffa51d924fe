"""slack_sdk's SQLAlchemy stores on our engine (tables created by our migrations, not by slack_sdk), and an
installation store wrapper that keeps Slack tokens encrypted at rest."""

from __future__ import annotations

import copy
import logging
from typing import TypeVar

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from storage.crypto import Keyring
from storage.db import Database
from storage.models import SLACK_SECRET_COLUMNS, slack_bots, slack_installations, slack_oauth_states

log = logging.getLogger(__name__)

_T = TypeVar("_T", Installation, Bot)
INSTALLATION_SECRETS = SLACK_SECRET_COLUMNS["slack_installations"]
BOT_SECRETS = SLACK_SECRET_COLUMNS["slack_bots"]
# Plaintext Slack tokens all start like this; Fernet tokens never do (they start with "gAAAAA").
_PLAINTEXT_PREFIXES = ("xox",)


def sqlalchemy_installation_store(db: Database, client_id: str) -> AsyncSQLAlchemyInstallationStore:
    return AsyncSQLAlchemyInstallationStore(
        client_id=client_id,
        engine=db.engine,
        bots_table_name=slack_bots.name,
        installations_table_name=slack_installations.name,
    )


def oauth_state_store(db: Database, expiration_seconds: int = 600) -> AsyncSQLAlchemyOAuthStateStore:
    return AsyncSQLAlchemyOAuthStateStore(
        expiration_seconds=expiration_seconds, engine=db.engine, table_name=slack_oauth_states.name
    )


def encrypted_installation_store(db: Database, client_id: str, keyring: Keyring) -> EncryptedInstallationStore:
    return EncryptedInstallationStore(sqlalchemy_installation_store(db, client_id), keyring)


def is_plaintext_token(value: str) -> bool:
    return value.startswith(_PLAINTEXT_PREFIXES)


class EncryptedInstallationStore(AsyncInstallationStore):
    """Encrypts bot and user tokens (and their refresh tokens) before they reach the inner store, and
    decrypts what it finds. Tokens saved in plaintext before this wrapper existed are still read (and
    `rotate_keys` encrypts them)."""

    def __init__(self, inner: AsyncInstallationStore, keyring: Keyring) -> None:
        self.inner = inner
        self.keyring = keyring

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self.inner.async_save(self._encrypted(installation, INSTALLATION_SECRETS))

    async def async_save_bot(self, bot: Bot) -> None:
        await self.inner.async_save_bot(self._encrypted(bot, BOT_SECRETS))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        bot = await self.inner.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return self._decrypted(bot, BOT_SECRETS) if bot is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        installation = await self.inner.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._decrypted(installation, INSTALLATION_SECRETS) if installation is not None else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self.inner.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def _encrypted(self, entity: _T, names: tuple[str, ...]) -> _T:
        clone = copy.copy(entity)  # the caller's object keeps its plaintext tokens
        for name in names:
            value = getattr(entity, name, None)
            if value:
                setattr(clone, name, self.keyring.encrypt(value))
        return clone

    def _decrypted(self, entity: _T, names: tuple[str, ...]) -> _T:
        clone = copy.copy(entity)
        for name in names:
            value = getattr(entity, name, None)
            if value and not is_plaintext_token(value):
                setattr(clone, name, self.keyring.decrypt(value))
        return clone
