"""Who a workspace's sweep is about, and the workspace's LMS as the sweep reads it: its linked learners (with
their time zones and muted modules), their preferences and first names, its tracked modules, and a reader of
the LMS through the shared cache (a batch of learners' answers at a time). A tick-off gets the same for one
learner."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.lms.factory import LmsClients
from bot.reminders import schedule
from bot.reminders.collect import Collector, Learner
from bot.reminders.delivery import Delivery
from bot.reminders.facts import FactsMemo
from bot.reminders.lms_reader import LmsReader, SnapshotStore
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders.team import Forced, Team
from bot.services.bulk_reads import BulkReads
from bot.services.cache import LmsCache
from bot.services.cached_answers import CachedAnswers
from bot.services.registry import LmsRegistry
from bot.services.reminder_audience import LearnerLink, ReminderAudience
from bot.services.sent_log import ClaimState
from bot.services.tracking import TrackingService
from bot.services.types import Provider, TrackedModuleRef


class Roster:
    def __init__(
        self,
        config: ReminderConfig,
        *,
        audience: ReminderAudience,
        answers: CachedAnswers,
        registry: LmsRegistry,
        cache: LmsCache,
        tracking: TrackingService,
        bulk_reads: BulkReads,
        delivery: Delivery,
        facts: FactsMemo,
        lms_zone: ZoneInfo,
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.audience = audience
        self.answers = answers
        self.registry = registry
        self.cache = cache
        self.tracking = tracking
        self.bulk_reads = bulk_reads
        self.delivery = delivery
        self.facts = facts
        self.lms_zone = lms_zone
        self.clock = clock

    async def open(
        self,
        team_id: str,
        links: list[LearnerLink],
        report: SweepReport,
        *,
        forced: Forced | None,
        only_user: str | None,
    ) -> Team:
        """The workspace's sweep, its learners not enrolled yet (`enrol`): each batch of them reads its cached
        answers in one go (`Team.focus`)."""
        snapshot = SnapshotStore(
            self.cache.store, self.answers.answers, self.clock, versions=self.answers.versions, memo=self.facts
        )
        lms, reader, tracked, collector = await self._lms(team_id, report, LmsCache(snapshot, clock=self.cache.clock))
        mutes = await self.audience.mutes(team_id)
        by_user: dict[str, dict[str, str]] = defaultdict(dict)
        for link in links:
            if link.provider == "zoho" and not lms.has_zoho:
                continue
            if link.provider == "ispring" and not lms.has_ispring:
                continue
            by_user[link.slack_user_id][link.provider] = link.learner_id
        team = Team(
            team_id=team_id,
            reader=reader,
            collector=collector,
            tracked=tracked,
            learners={},
            prefs=await self.audience.preferences(team_id),
            zoho_users={ids["zoho"]: user for user, ids in by_user.items() if "zoho" in ids},
            ispring_users={ids["ispring"]: user for user, ids in by_user.items() if "ispring" in ids},
            has_ispring=lms.has_ispring,
            linked=dict(by_user),
            mutes=mutes,
            only_user=only_user,
            forced=forced,
            snapshot=snapshot,
        )
        if tracked:  # ZOHO_BULK_READS: a verified bulk answer may spare module-progress calls
            zoho_learners = {ids["zoho"]: frozenset(mutes.get(u, ())) for u, ids in by_user.items() if "zoho" in ids}
            reader.use_bulk(self.bulk_reads, zoho_learners, tracked)
        return team

    async def enrol(
        self,
        team: Team,
        users: list[str],
        taken: dict[tuple[str, str], ClaimState],
        report: SweepReport,
        *,
        force: bool,
        dry_run: bool,
        now: datetime,
    ) -> None:
        """These linked people become the sweep's learners, in their time zones (learnt from Slack where needed)."""
        await self._resolve_people(team, users, taken, report, force=force, dry_run=dry_run, now=now)
        for user_id in users:
            ids = team.linked[user_id]
            team.learners[user_id] = Learner(
                team.team_id,
                user_id,
                ids.get("zoho"),
                ids.get("ispring"),
                schedule.zone(team.pref(user_id).timezone),
                frozenset(team.mutes.get(user_id, ())),
            )

    async def one(self, team_id: str, user_id: str, report: SweepReport) -> Team:
        """One learner's workspace for a tick-off: answers read one at a time from the shared cache."""
        lms, reader, tracked, collector = await self._lms(team_id, report, self.cache)
        ids: dict[str, str] = {}
        for provider in ("zoho", "ispring"):
            link = await self.audience.link(team_id, user_id, provider)
            if link is not None:
                ids[provider] = link.learner_id
        mutes = await self.audience.mutes(team_id)
        team = Team(
            team_id=team_id,
            reader=reader,
            collector=collector,
            tracked=tracked,
            learners={},
            prefs={user_id: await self.audience.preference(team_id, user_id)},
            zoho_users={},
            ispring_users={},
            has_ispring=lms.has_ispring and "ispring" in ids,
            only_user=user_id,
        )
        team.learners[user_id] = Learner(
            team_id,
            user_id,
            ids.get("zoho") if lms.has_zoho else None,
            ids.get("ispring") if lms.has_ispring else None,
            schedule.zone(team.pref(user_id).timezone),
            frozenset(mutes.get(user_id, ())),
        )
        return team

    async def _lms(
        self, team_id: str, report: SweepReport, cache: LmsCache
    ) -> tuple[LmsClients, LmsReader, list[TrackedModuleRef], Collector]:
        """The workspace's LMS as this sweep reads it (through `cache`), and its tracked Zoho modules."""
        lms = await self.registry.for_team(team_id)
        reader = LmsReader(team_id, lms, cache, self.config, report, self.clock)
        tracked = await self.tracking.list(team_id, Provider.ZOHO) if lms.has_zoho else []
        zoho_url = lms.zoho.transport.base_url if lms.has_zoho else None  # this workspace's own data center
        return lms, reader, tracked, Collector(reader, tracked, self.config, report, self.lms_zone, zoho_url)

    async def _resolve_people(
        self,
        team: Team,
        users: list[str],
        sent: dict[tuple[str, str], ClaimState],
        report: SweepReport,
        *,
        force: bool,
        dry_run: bool,
        now: datetime,
    ) -> None:
        """Slack profiles for the people we need them for: anyone whose time zone we do not know yet, and
        anyone who may get a digest now (for their name, and to notice a changed time zone)."""
        wanted: set[str] = set()
        for user_id in users:
            prefs = team.pref(user_id)
            if not prefs.enabled:
                continue
            tz = schedule.zone(prefs.timezone)
            if prefs.timezone is None or (
                (user_id, schedule.local_period(now, tz)) not in sent and (force or schedule.digest_due(prefs, tz, now))
            ):
                wanted.add(user_id)
        profiles = await self.delivery.profiles(team.team_id, wanted, report)
        for user_id, profile in profiles.items():
            team.names[user_id] = profile.real_name.split(" ")[0] if profile.real_name else profile.name
            zone_name = profile.tz if profile.tz and schedule.zone(profile.tz).key == profile.tz else None
            prefs = team.pref(user_id)
            if zone_name and zone_name != prefs.timezone:
                team.prefs[user_id] = replace(prefs, timezone=zone_name)
                if not dry_run:  # the profile's zone, remembered so most sweeps need no Slack call
                    await self.audience.remember_timezone(team.team_id, user_id, zone_name)
