"""The composition root: settings in, every service wired to storage, LMS clients and Slack out.

Built once per process (web, worker, CLI) and closed at shutdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

import httpx
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.clock import Clock, SystemClock, utc, wall_time
from bot.config import Settings
from bot.lms.factory import build_http, build_rate_limiter
from bot.lms.ratelimit import RateLimiter
from bot.lms.transport import RetryPolicy
from bot.services.bulk_reads import BulkMode, BulkReads
from bot.services.cache import LmsCache
from bot.services.connections import ConnectionService
from bot.services.deliveries import DeliveryLedger
from bot.services.ispring_webhooks import ISpringWebhooks
from bot.services.learning import LearningService
from bot.services.links import LinkService
from bot.services.module_edit import ModuleEditService
from bot.services.nudges import NudgeService
from bot.services.people import PeopleService
from bot.services.preferences import PreferenceService
from bot.services.registry import LmsRegistry
from bot.services.roles import RoleService
from bot.services.slack_gateway import SlackGateway
from bot.services.status import StatusService
from bot.services.tickoff import TickOff
from bot.services.token_store import DatabaseTokenStore
from bot.services.tracking import TrackingService
from bot.services.types import Provider
from bot.services.workspaces import WorkspaceService
from storage.crypto import Keyring, load_keyring
from storage.db import Database, parse_url
from storage.ratelimit import SqlRateLimitBackend
from storage.repositories.audit import AuditRepository
from storage.repositories.cache import LmsCacheRepository
from storage.repositories.connect_states import ConnectStateRepository
from storage.repositories.connections import ConnectionRepository
from storage.repositories.deliveries import DeliveryRepository
from storage.repositories.dm_channels import DmChannelRepository
from storage.repositories.leases import LeaseRepository
from storage.repositories.links import LinkRepository
from storage.repositories.modules import TrackedModuleRepository
from storage.repositories.preferences import PreferenceRepository
from storage.repositories.reminders import SentReminderRepository
from storage.repositories.workspaces import WorkspaceRepository
from storage.slack_stores import encrypted_installation_store


def dev_key_file(database_url: str) -> Path:
    """Where development mode keeps its generated key: beside the SQLite file it protects (so the two move
    together, whatever the working directory), else in the user's config directory."""
    dialect, parsed = parse_url(database_url)
    if dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(str(parsed.database)).with_suffix(".key")
    return Path.home() / ".config" / "lmsbot" / "dev-key"


@dataclass
class Services:
    settings: Settings
    clock: Clock  # the process's one clock: the limiter, the cache, the rows storage stamps, the listeners
    lms_now: Callable[[], datetime]  # that clock read in the LMS's zone (LMS_TIMEZONE)
    db: Database
    keyring: Keyring
    http: httpx.AsyncClient
    limiter: RateLimiter
    installation_store: AsyncInstallationStore | None
    connections_repo: ConnectionRepository
    links_repo: LinkRepository
    modules_repo: TrackedModuleRepository
    preferences: PreferenceRepository
    reminders: SentReminderRepository
    audit: AuditRepository
    registry: LmsRegistry
    cache: LmsCache
    slack: SlackGateway
    roles: RoleService
    links: LinkService
    tracking: TrackingService
    connections: ConnectionService
    learning: LearningService
    people: PeopleService
    nudges: NudgeService
    module_edit: ModuleEditService
    reminder_prefs: PreferenceService
    status: StatusService
    deliveries: DeliveryLedger
    bulk_reads: BulkReads
    tickoff: TickOff
    ispring_webhooks: ISpringWebhooks
    workspaces: WorkspaceService

    async def aclose(self) -> None:
        await self.cache.drain()  # answers already served, still on their way into the database
        await self.http.aclose()
        await self.slack.aclose()
        await self.db.dispose()


def build_services(
    settings: Settings,
    *,
    db: Database | None = None,
    keyring: Keyring | None = None,
    clock: Clock | None = None,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
) -> Services:
    clock = clock or SystemClock()
    db = db or Database(settings.database_url)
    keyring = keyring or load_keyring(
        settings.lmsbot_encryption_keys,
        production=settings.lmsbot_env == "production",
        dev_key_file=dev_key_file(settings.database_url),
    )
    http = http or build_http(settings)
    limiter = build_rate_limiter(settings, clock, database_backend=SqlRateLimitBackend(db))
    installation_store: AsyncInstallationStore | None = None
    if settings.multi_workspace and settings.slack_client_id:
        installation_store = encrypted_installation_store(db, settings.slack_client_id, keyring)

    # Rows are stamped with the time the limiter and the cache see (virtual in tests and benchmarks).
    stamp = partial(utc, clock)
    connections_repo = ConnectionRepository(db, keyring, clock=stamp)
    links_repo = LinkRepository(db, clock=stamp)
    modules_repo = TrackedModuleRepository(db, clock=stamp)
    audit = AuditRepository(db, clock=stamp)

    def token_store(team_id: str, provider: Provider) -> DatabaseTokenStore:
        return DatabaseTokenStore(connections_repo, team_id, provider)

    registry = LmsRegistry(settings, connections_repo, limiter, http, token_store=token_store, retry=retry)
    cache = LmsCache(LmsCacheRepository(db, clock=stamp), clock=clock.now)
    slack = SlackGateway(settings, installation_store, dm_channels=DmChannelRepository(db, clock=stamp))
    tickoff = TickOff(links_repo, cache)  # the reminder engine becomes its updater where one is built (bot.app)
    cache.on_stored(tickoff.stored)
    links = LinkService(
        links_repo,
        audit,
        registry,
        slack,
        self_link_by_id=settings.lmsbot_self_link_by_id,
        leases=LeaseRepository(db, clock=stamp),
    )
    tracking = TrackingService(modules_repo, audit, registry)
    preferences = PreferenceRepository(db, clock=stamp)
    connections = ConnectionService(
        settings, connections_repo, ConnectStateRepository(db, clock=stamp), audit, registry, http
    )
    lms_now = partial(wall_time, clock, settings.lms_timezone)
    learning = LearningService(settings, registry, cache, links, tracking, lms_now=lms_now)
    roles = RoleService(settings, slack)
    people = PeopleService(settings, registry, cache, links, slack)
    sent_log = SentReminderRepository(db, clock=stamp)
    bulk_reads = BulkReads(
        cache,
        mode=BulkMode(settings.zoho_bulk_reads),
        recheck_hours=settings.zoho_bulk_recheck_hours,
        sample_size=settings.zoho_bulk_sample,
    )
    deliveries = DeliveryLedger(DeliveryRepository(db, clock=stamp))
    return Services(
        settings=settings,
        clock=clock,
        lms_now=lms_now,
        db=db,
        keyring=keyring,
        http=http,
        limiter=limiter,
        installation_store=installation_store,
        connections_repo=connections_repo,
        links_repo=links_repo,
        modules_repo=modules_repo,
        preferences=preferences,
        reminders=sent_log,
        audit=audit,
        registry=registry,
        cache=cache,
        slack=slack,
        roles=roles,
        links=links,
        tracking=tracking,
        connections=connections,
        learning=learning,
        people=people,
        nudges=NudgeService(settings, roles, people, learning, slack, sent_log, lms_now=lms_now),
        module_edit=ModuleEditService(settings, registry, tracking, cache, audit, lms_now=lms_now),
        reminder_prefs=PreferenceService(preferences, tracking, slack, audit),
        deliveries=deliveries,
        status=StatusService(settings, connections, links, tracking, learning, cache, bulk_reads),
        bulk_reads=bulk_reads,
        tickoff=tickoff,
        ispring_webhooks=ISpringWebhooks(registry, links_repo, cache, tickoff, deliveries),
        workspaces=WorkspaceService(settings, WorkspaceRepository(db, clock=stamp), slack),
    )
