"""Who iSpring's learners are, and whose team is whose.

- Names: an iSpring user id becomes a Slack user (the link, else the same e-mail in Slack), else the LMS's
  own name (GET /users) — never a raw id.
- Teams: a manager's reports are the learners of the iSpring departments they supervise (GET /department,
  `supervisorId`, sub-departments that inherit it), or the departments LMSBOT_MANAGER_DEPARTMENTS maps them to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import Settings
from bot.errors import Problem
from bot.lms.errors import ForbiddenError, LMSError, NotFoundError
from bot.lms.ispring_models import Department, UserProfile
from bot.lms.ratelimit import Priority
from bot.services.cache import Codec, LmsCache
from bot.services.learning import NeedsSetup
from bot.services.links import LinkService
from bot.services.registry import LmsRegistry
from bot.services.slack_gateway import SlackGateway
from bot.services.types import Provider

USERS = Codec[list[UserProfile]](list[UserProfile])
DEPARTMENTS = Codec[list[Department]](list[Department])
DIRECTORY_MAX_AGE = 3600.0  # names and departments change rarely
_SLACK_TTL = 600.0


class NoTeam(NeedsSetup):
    """A manager with no team the bot can find: the view says how to get one."""


@dataclass(frozen=True, slots=True)
class Person:
    slack_user_id: str | None
    name: str | None  # the LMS's own name (or e-mail) when no Slack user is known
    department_id: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose results someone sees: the departments (None: everyone) and how to say so."""

    department_ids: tuple[str, ...] | None
    label: str

    @property
    def everyone(self) -> bool:
        return self.department_ids is None


@dataclass
class Directory:
    people: dict[str, Person] = field(default_factory=dict)  # iSpring user id -> person

    def slack_ids(self) -> dict[str, str]:
        return {uid: p.slack_user_id for uid, p in self.people.items() if p.slack_user_id}

    def names(self) -> dict[str, str]:
        return {uid: p.name for uid, p in self.people.items() if p.name}


def team_departments(departments: list[Department], supervisor: str) -> set[str]:
    """The departments `supervisor` (an iSpring user id) supervises, with the sub-departments inheriting it."""
    children: dict[str, list[Department]] = {}
    for d in departments:
        if d.parent_department_id:
            children.setdefault(d.parent_department_id, []).append(d)
    found = {d.department_id for d in departments if supervisor in d.supervisor_ids}
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            inherits = (child.subordination_type or "").lower() == "inherit" and not child.supervisor_ids
            if inherits and child.department_id not in found:
                found.add(child.department_id)
                todo.append(child.department_id)
    return found


class PeopleService:
    def __init__(
        self,
        settings: Settings,
        registry: LmsRegistry,
        cache: LmsCache,
        links: LinkService,
        slack: SlackGateway,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.cache = cache
        self.links = links
        self.slack = slack
        self._clock = clock
        self._emails: dict[str, tuple[dict[str, str], float]] = {}

    async def ispring_users(self, team_id: str, priority: Priority = Priority.INTERACTIVE) -> list[UserProfile]:
        lms = await self.registry.for_team(team_id)
        users, _fresh = await self.cache.fetch(
            f"{team_id}:ispring:users", lambda: lms.ispring.users(priority=priority), USERS, max_age=DIRECTORY_MAX_AGE
        )
        return users

    async def departments(self, team_id: str, priority: Priority = Priority.INTERACTIVE) -> list[Department]:
        lms = await self.registry.for_team(team_id)
        found, _fresh = await self.cache.fetch(
            f"{team_id}:ispring:departments",
            lambda: lms.ispring.departments(priority=priority),
            DEPARTMENTS,
            max_age=DIRECTORY_MAX_AGE,
        )
        return found

    async def slack_by_email(self, team_id: str) -> dict[str, str]:
        """Lower-cased e-mail -> Slack user id, from users.list (one paged read, kept ten minutes)."""
        cached = self._emails.get(team_id)
        if cached and self._clock() - cached[1] < _SLACK_TTL:
            return cached[0]
        emails = {p.email.lower(): p.id for p in await self.slack.users(team_id) if p.email}
        self._emails[team_id] = (emails, self._clock())
        return emails

    async def directory(self, team_id: str, priority: Priority = Priority.INTERACTIVE) -> Directory:
        """Every iSpring user as a person; what cannot be read (Slack or LMS down) is left out, not fatal."""
        links = await self.links.links.list(team_id, Provider.ISPRING)
        linked = {link.learner_id: link.slack_user_id for link in links}
        try:
            users = await self.ispring_users(team_id, priority)
        except LMSError:
            users = []
        try:
            by_email = await self.slack_by_email(team_id) if users else {}
        except Exception:  # noqa: BLE001 - names fall back to the LMS's own
            by_email = {}
        people = {uid: Person(slack, None) for uid, slack in linked.items()}
        for user in users:
            slack = linked.get(user.user_id) or (by_email.get(user.email.lower()) if user.email else None)
            people[user.user_id] = Person(slack, user.name if user.name != user.user_id else None, user.department_id)
        return Directory(people)

    async def ispring_id(self, team_id: str, user_id: str, priority: Priority = Priority.INTERACTIVE) -> str | None:
        """The iSpring user a Slack user is: their link, else the iSpring user with their Slack e-mail."""
        link = await self.links.learner_for(team_id, user_id, Provider.ISPRING)
        if link is not None:
            return link.learner_id
        email = (await self.slack.user(team_id, user_id)).email
        if not email:
            return None
        users = await self.ispring_users(team_id, priority)  # iSpring down: say so, not "you have no team"
        return next((u.user_id for u in users if u.email and u.email.lower() == email.lower()), None)

    async def scope(
        self,
        team_id: str,
        user_id: str,
        *,
        admin: bool,
        everyone: bool = False,
        priority: Priority = Priority.INTERACTIVE,
    ) -> Scope:
        """A manager's team by default; admins see everyone when they have no team or ask for `all`."""
        if everyone:
            if not admin:
                raise NoTeam(Problem.ONLY_ADMINS_SEE_EVERYONE)
            return Scope(None, "everyone")
        mapped = self.settings.manager_departments().get(user_id)
        if mapped:
            return Scope(tuple(sorted(mapped)), "your team")
        no_team = NoTeam(Problem.NO_TEAM_NO_DEPARTMENT)
        try:
            me = await self.ispring_id(team_id, user_id, priority)
            if me is None:
                no_team = NoTeam(Problem.NO_TEAM_NOT_LINKED)
            else:
                try:
                    mine = team_departments(await self.departments(team_id, priority), me)
                except (ForbiddenError, NotFoundError) as exc:  # a plan or role without the departments API
                    mine, no_team = set(), NoTeam(Problem.NO_TEAM_DEPARTMENTS_UNREADABLE, lms_message=exc.message)
                if mine:
                    return Scope(tuple(sorted(mine)), "your team")
        except LMSError:
            if not admin:
                raise  # iSpring is down or refusing: the reply says so, in plain words
        if admin:
            return Scope(None, "everyone")  # if iSpring is down, the results call says so
        raise no_team
