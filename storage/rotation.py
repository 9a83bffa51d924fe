"""Re-encrypting every stored secret under the newest key (step two of a key rotation), and checking at start-up
that the configured keys read what is stored."""

from __future__ import annotations

import logging

from sqlalchemy import Table, select, update

from storage.crypto import Keyring
from storage.db import Database
from storage.errors import DecryptionError
from storage.models import SLACK_SECRET_COLUMNS, ProviderConnectionRow, metadata, slack_bots, slack_installations
from storage.repositories._common import rowcount
from storage.slack_stores import is_plaintext_token

log = logging.getLogger(__name__)

_CONNECTION_SECRETS = ("client_secret_enc", "refresh_token_enc", "access_token_enc")


async def rotate_keys(db: Database, keyring: Keyring) -> int:
    """Rows whose secrets were re-encrypted with the newest key; 0 when all already were.

    Slack tokens still stored in plaintext (saved before encryption was on) are encrypted too. Each table
    is done in its own transaction; running it again after a failure picks up where it stopped.
    """
    changed = await _rotate(db, keyring, metadata.tables[ProviderConnectionRow.__tablename__], _CONNECTION_SECRETS)
    for table in (slack_installations, slack_bots):
        changed += await _rotate(db, keyring, table, SLACK_SECRET_COLUMNS[table.name])
    log.info("key rotation: %d row(s) re-encrypted", changed)
    return changed


async def _rotate(db: Database, keyring: Keyring, table: Table, columns: tuple[str, ...]) -> int:
    changed = 0
    async with db.transaction(locks=[f"rotate:{table.name}"]) as session:
        rows = (await session.execute(select(table.c.id, *(table.c[name] for name in columns)))).all()
        for row in rows:
            values: dict[str, str] = {}
            for name in columns:
                value = getattr(row, name)
                if not value:
                    continue
                if is_plaintext_token(value):
                    values[name] = keyring.encrypt(value)
                elif keyring.needs_rotation(value):
                    values[name] = keyring.rotate(value)
            if values:
                # Compare-and-set: a secret saved meanwhile by another process is newer; leave it alone.
                unchanged = [table.c[name] == getattr(row, name) for name in values]
                result = await session.execute(update(table).where(table.c.id == row.id, *unchanged).values(**values))
                changed += rowcount(result)
    return changed


async def check_keys(db: Database, keyring: Keyring) -> None:
    """Refuse a keyring that cannot read what is stored: DecryptionError saying how many secrets, and where.

    Run at start-up by the long-running processes, so a wrong or dropped key is one clear line then, not a
    failure later in every workspace's first command or reminder.
    """
    checked = 0
    unreadable: dict[str, int] = {}
    tables: list[tuple[Table, tuple[str, ...]]] = [
        (metadata.tables[ProviderConnectionRow.__tablename__], _CONNECTION_SECRETS)
    ]
    tables += [(table, SLACK_SECRET_COLUMNS[table.name]) for table in (slack_installations, slack_bots)]
    async with db.transaction(write=False) as session:
        for table, columns in tables:
            for row in (await session.execute(select(*(table.c[name] for name in columns)))).all():
                for value in row:
                    if not value or is_plaintext_token(value):
                        continue
                    checked += 1
                    try:
                        keyring.decrypt(value)
                    except DecryptionError:
                        unreadable[table.name] = unreadable.get(table.name, 0) + 1
    if unreadable:
        where = ", ".join(f"{count} in {name}" for name, count in sorted(unreadable.items()))
        raise DecryptionError(
            f"LMSBOT_ENCRYPTION_KEYS cannot decrypt {sum(unreadable.values())} of the {checked} stored secret(s) "
            f"({where}): the key they were written with is not among the {len(keyring)} configured; put it back "
            "in LMSBOT_ENCRYPTION_KEYS (new keys go first, old ones stay until `lmsbot keys rotate` has run)"
        )
