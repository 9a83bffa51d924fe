"""A workspace's rows: the uninstall mark, its Slack tokens, and `purge` deleting everything of it (and nothing of
another workspace), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import func, select, text

from storage.crypto import Keyring
from storage.db import Database
from storage.models import metadata, slack_installations
from storage.repositories.audit import AuditRepository
from storage.repositories.cache import LmsCacheRepository
from storage.repositories.connect_states import ConnectStateRepository
from storage.repositories.connections import ConnectionRepository
from storage.repositories.dm_channels import DmChannelRepository
from storage.repositories.leases import LeaseRepository
from storage.repositories.links import LinkRepository
from storage.repositories.modules import TrackedModuleRepository
from storage.repositories.preferences import PreferenceRepository
from storage.repositories.reminders import SentReminderRepository
from storage.repositories.workspaces import KEY_PREFIXED, NOT_WORKSPACE_DATA, WorkspaceRepository, team_tables
from storage.slack_stores import encrypted_installation_store

TEAM, OTHER = "T0GONE", "T0STAY"
CLIENT_ID = "0000000000.0000000001"


def test_every_table_says_whether_it_holds_workspace_data() -> None:
    """A new table must be purged by team_id, by key prefix, or say why it holds nothing of a workspace."""
    by_column = {table.name for table in team_tables()}
    prefixed, other = set(KEY_PREFIXED), set(NOT_WORKSPACE_DATA)
    assert not by_column & prefixed and not by_column & other and not prefixed & other
    unclassified = set(metadata.tables) - by_column - prefixed - other
    assert not unclassified, f"tables neither purged per workspace nor listed in NOT_WORKSPACE_DATA: {unclassified}"
    assert set(metadata.tables) >= prefixed | other  # no stale names


async def _populate(db: Database, keyring: Keyring, team: str) -> None:
    """One or more rows of `team` in every table a workspace has rows in, through the code that writes them."""
    links = LinkRepository(db)
    await links.link(team, "U1", "zoho", "L1", email="a@example.com", method="admin", linked_by="t")
    row, _ = await TrackedModuleRepository(db).track(team, "zoho", "C1", None, "M1", alias="m1", created_by="t")
    prefs = PreferenceRepository(db)
    await prefs.update(team, "U1", send_time="08:00")
    assert await prefs.mute(team, "U1", row.id)
    sent = SentReminderRepository(db)
    claim = await sent.claim(team, "U1", "digest", "2026-12-01", stale_after=timedelta(minutes=10))
    assert claim is not None
    await sent.confirm(claim, "D1", "1.0")
    await AuditRepository(db).record(team, "U1", "link", "U1", None, {"learner": "L1"})
    await ConnectStateRepository(db).issue(team, "U1", "zoho", None, timedelta(minutes=10))
    await ConnectionRepository(db, keyring).save_ispring(
        team, api_url="http://ispring", client_id="c", client_secret="s", connected_by="U1"
    )
    await DmChannelRepository(db).put(team, "U1", "D1")
    await LmsCacheRepository(db).put(f"{team}:zoho:progress:C1:-:M1:L1", {"done": 1})
    assert await LeaseRepository(db).acquire(f"link-request:{team}:U1", "h", timedelta(days=1))
    store = encrypted_installation_store(db, CLIENT_ID, keyring)
    await store.async_save(
        Installation(
            app_id="A1",
            enterprise_id=None,
            team_id=team,
            bot_token=f"xoxb-{team}",
            bot_id="B1",
            bot_user_id="UBOT",
            bot_scopes="chat:write",
            user_id="U1",
            user_token=f"xoxp-{team}",
            user_scopes="users:read",
        )
    )
    await WorkspaceRepository(db).mark_uninstalled(
        team, enterprise_id=None, reason="app_uninstalled", token_fingerprint=None
    )


async def _rows_of(db: Database, team: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with db.engine.connect() as conn:
        for table in team_tables():
            counts[table.name] = (
                await conn.execute(select(func.count()).select_from(table).where(table.c.team_id == team))
            ).scalar_one()
        for name, (column, prefix) in KEY_PREFIXED.items():
            table = metadata.tables[name]
            where = table.c[column].startswith(f"{prefix}{team}:", autoescape=True)
            counts[name] = (await conn.execute(select(func.count()).select_from(table).where(where))).scalar_one()
    return counts


async def test_purge_deletes_every_row_of_the_workspace_and_nothing_of_another(db: Database, keyring: Keyring) -> None:
    for team in (TEAM, OTHER):
        await _populate(db, keyring, team)
    before = await _rows_of(db, TEAM)
    # Every table a workspace can have rows in has some here: a new team-keyed table fails this until the
    # fixture above writes to it (and so until purge is shown to delete it).
    assert all(before.values()), f"tables the test did not populate: {[n for n, c in before.items() if not c]}"
    repo = WorkspaceRepository(db)
    assert await repo.inventory(TEAM) == before

    deleted = await repo.purge(TEAM)

    assert deleted == before
    assert not any((await _rows_of(db, TEAM)).values())
    assert await _rows_of(db, OTHER) == await repo.inventory(OTHER) == before  # the other workspace is untouched
    assert await repo.purge(TEAM) == {}  # idempotent
    assert await repo.inventory(TEAM) == {}


async def test_a_team_id_with_like_wildcards_purges_only_itself(db: Database, keyring: Keyring) -> None:
    cache = LmsCacheRepository(db)
    await cache.put("T_1:sweep:last", {"x": 1})
    await cache.put("TX1:sweep:last", {"x": 2})
    assert await WorkspaceRepository(db).purge("T_1") == {"lms_cache": 1}
    assert await cache.get("TX1:sweep:last") is not None


async def test_tokens_are_deleted_per_workspace_and_user_tokens_per_person(db: Database, keyring: Keyring) -> None:
    for team in (TEAM, OTHER):
        await _populate(db, keyring, team)
    repo = WorkspaceRepository(db)
    store = encrypted_installation_store(db, CLIENT_ID, keyring)

    assert await repo.delete_user_tokens(OTHER, ["U1"]) == 1
    installation = await store.async_find_installation(enterprise_id=None, team_id=OTHER)
    assert installation is not None and installation.user_token is None
    assert installation.bot_token == f"xoxb-{OTHER}"  # the bot keeps its token
    assert await repo.delete_user_tokens(OTHER, ["U1"]) == 0

    assert await repo.delete_slack_tokens(TEAM) == 2  # its installation row and its bot row
    assert await store.async_find_bot(enterprise_id=None, team_id=TEAM) is None
    assert await store.async_find_installation(enterprise_id=None, team_id=TEAM) is None
    assert await store.async_find_bot(enterprise_id=None, team_id=OTHER) is not None
    assert await repo.installed_teams() == [OTHER]
    async with db.engine.connect() as conn:
        stored = (await conn.execute(select(slack_installations.c.bot_token))).scalars().all()
        assert all(f"xoxb-{OTHER}" not in str(value) for value in stored)  # still encrypted at rest
        assert (await conn.execute(text("SELECT count(*) FROM slack_bots"))).scalar_one() == 1


async def test_the_uninstall_mark_is_kept_once_per_workspace(db: Database) -> None:
    repo = WorkspaceRepository(db)
    assert await repo.uninstall_mark(TEAM) is None
    await repo.mark_uninstalled(TEAM, enterprise_id=None, reason="tokens_revoked", token_fingerprint="abc")
    await repo.mark_uninstalled(TEAM, enterprise_id=None, reason="app_uninstalled", token_fingerprint="def")
    mark = await repo.uninstall_mark(TEAM)
    assert mark is not None and (mark.reason, mark.token_fingerprint) == ("app_uninstalled", "def")
    assert await repo.clear_uninstall_mark(TEAM)
    assert await repo.uninstall_mark(TEAM) is None
