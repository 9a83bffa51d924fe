"""Linking Slack users to LMS learners: self-service, by an admin, automatically by e-mail, or from a CSV.

Zoho People learner ids are long numbers and iSpring ids are UUIDs, so when a workspace has both LMSs the
shape of the id says which one is meant. Zoho documents no way to find a learner by e-mail, so e-mail linking
(self-service and automatic) works for iSpring; for Zoho, admins import a CSV.

Size (~480 lines): the four ways of linking share one set of ownership checks (an e-mail or learner id must be
the caller's own; one user per learner), kept beside each other so no path can skip one; the CSV import is the
last third and the first candidate to move out.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.errors import Problem, UserError
from bot.lms.errors import LMSError, NotConnectedError
from bot.services.registry import LmsRegistry
from bot.services.slack_gateway import SlackGateway, SlackNotInstalled, SlackUser
from bot.services.types import Provider
from storage.errors import LinkConflict
from storage.repositories.audit import AuditRepository
from storage.repositories.leases import LeaseRepository
from storage.repositories.links import LearnerLink, LinkRepository, LinkSpec, link_audit
from storage.repositories.links import LinkResult as LinkResult  # re-exported: the views word it

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SLACK_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]+$")
_EMAILS_PER_LOOKUP = 50  # e-mails per iSpring GET /users while importing: keeps each URL short
LINK_REQUEST_ACTION = "link_request"  # audit action of "ask the admins to link me"
LINK_REQUEST_EVERY = timedelta(days=1)  # one request per person per day: the button cannot spam the admins


class LinkError(UserError):
    """A link request that cannot be carried out: its Problem says why."""


@dataclass(frozen=True, slots=True)
class CsvProblem:
    """A line of a file of links that was not applied, and why."""

    line: int
    error: UserError


@dataclass(slots=True)
class CsvReport:
    linked: list[LinkResult] = field(default_factory=list)
    unchanged: int = 0
    errors: list[CsvProblem] = field(default_factory=list)  # line 4: no Slack member has the e-mail x@y


@dataclass(frozen=True, slots=True)
class AutoLinkReport:
    linked: list[LinkResult] = field(default_factory=list)
    unmatched: list[SlackUser] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why some providers were not tried


@dataclass(frozen=True, slots=True)
class LinkAttempt:
    """What one self-service `/lms link` did for one connected LMS."""

    provider: Provider
    result: LinkResult | None = None  # linked now, or already exactly so
    kept: LearnerLink | None = None  # not asked about this LMS: the link it already had stays
    problem: UserError | None = None  # why it is not linked

    @property
    def linked(self) -> LearnerLink | None:
        return self.result.link if self.result is not None else self.kept


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value.strip()))


def slack_user_ref(value: str) -> str | None:
    """A Slack user id from `<@U123|name>` or a bare `U123`."""
    value = value.strip()
    if m := _SLACK_MENTION.match(value):
        return m[1]
    return value if _SLACK_ID.match(value) else None


class LinkService:
    def __init__(
        self,
        links: LinkRepository,
        audit: AuditRepository,
        registry: LmsRegistry,
        slack: SlackGateway,
        *,
        self_link_by_id: bool = False,
        leases: LeaseRepository | None = None,
    ) -> None:
        self.leases = leases  # "once a day" claims: one conditional statement, so a double click asks once
        # LMSBOT_SELF_LINK_BY_ID: false means e-mail (verified) only; true still needs the LMS to confirm the id.
        self.self_link_by_id = self_link_by_id
        self.links = links
        self.audit = audit
        self.registry = registry
        self.slack = slack

    async def providers(self, team_id: str) -> list[Provider]:
        lms = await self.registry.for_team(team_id)
        return [p for p, ok in ((Provider.ZOHO, lms.has_zoho), (Provider.ISPRING, lms.has_ispring)) if ok]

    async def pick_provider(self, team_id: str, value: str, provider: Provider | None = None) -> Provider:
        return _choose_provider(await self.providers(team_id), value, provider)

    async def link(
        self,
        team_id: str,
        slack_user_id: str,
        value: str,
        *,
        actor: str,
        provider: Provider | None = None,
        method: str | None = None,
    ) -> LinkResult:
        """Link `slack_user_id` to the learner named by `value` (a learner id, or an e-mail iSpring knows)."""
        value = value.strip()
        if not value:
            raise LinkError(Problem.NO_LEARNER_GIVEN)
        if "@" in value and not is_email(value):
            raise LinkError(Problem.NOT_AN_EMAIL, value=value)
        chosen = await self.pick_provider(team_id, value, provider)
        email: str | None = None
        learner_id = value
        self_service = actor == slack_user_id and method is None
        if is_email(value):
            email = value.lower()
            if self_service:
                await self._own_email(team_id, actor, email)
            learner_id = await self._learner_by_email(team_id, chosen, email)
        elif chosen is Provider.ZOHO and not value.isdigit():
            raise LinkError(Problem.NOT_A_ZOHO_ID, value=value)
        elif self_service:
            # Anyone can type a colleague's id: it links only when the LMS says the id carries the caller's e-mail.
            if not self.self_link_by_id:
                raise LinkError(Problem.SELF_LINK_BY_EMAIL_ONLY)
            await self._own_learner_id(team_id, chosen, actor, learner_id)
        try:
            result = await self.links.link(
                team_id,
                slack_user_id,
                chosen,
                learner_id,
                email=email,
                method=method or ("self" if actor == slack_user_id else "admin"),
                linked_by=actor,
            )
        except LinkConflict as exc:
            # Who holds it is shown to admins only: a learner probing ids should not learn whose they are.
            holder = "" if self_service else exc.slack_user_id
            raise LinkError(Problem.LEARNER_TAKEN, provider=chosen.value, holder=holder) from exc
        if result.changed:
            await self.audit.record(team_id, actor, "link", *link_audit(result))
        return result

    async def link_self(self, team_id: str, user_id: str, value: str) -> list[LinkAttempt]:
        """A learner linking themselves: one attempt per connected LMS, so the reply can say what happened in each.

        An e-mail is tried with every LMS that can look learners up by e-mail (iSpring; Zoho documents no such
        lookup, so a Zoho link needs an admin). An id names one LMS; the others keep whatever link they had.
        A refusal that is about the person, not one LMS (someone else's e-mail, an id they may not claim),
        raises LinkError as before.
        """
        value = value.strip()
        connected = await self.providers(team_id)
        if is_email(value) and connected:
            await self._own_email(team_id, user_id, value.lower())
            wanted = connected
        else:
            wanted = [await self.pick_provider(team_id, value)]
        attempts: list[LinkAttempt] = []
        for provider in connected:
            existing = await self.links.get(team_id, user_id, provider)
            if provider not in wanted:
                attempts.append(LinkAttempt(provider, kept=existing))
                continue
            if provider is Provider.ZOHO and is_email(value):
                problem = None if existing else LinkError(Problem.ZOHO_NO_EMAIL_LOOKUP_KEPT)
                attempts.append(LinkAttempt(provider, kept=existing, problem=problem))
                continue
            try:
                result = await self.link(team_id, user_id, value, actor=user_id, provider=provider)
            except LinkError as exc:
                if len(wanted) == 1:
                    raise
                attempts.append(LinkAttempt(provider, kept=existing, problem=exc))
                continue
            attempts.append(LinkAttempt(provider, result=result))
        return attempts

    async def claim_link_request(self, team_id: str, user_id: str, providers: list[Provider]) -> datetime | None:
        """Record that `user_id` asks the admins to link them. If they already asked in the last day: when they
        did (and nothing is recorded). Two clicks at once: exactly one wins."""
        name = f"link-request:{team_id}:{user_id}"
        if self.leases is not None and not await self.leases.acquire(name, uuid.uuid4().hex, LINK_REQUEST_EVERY):
            lease = await self.leases.current(name)
            return lease.acquired_at if lease is not None else datetime.now(UTC)
        if self.leases is None:  # no lease table (unit tests): the audit log alone, not race-free
            earlier = await self.audit.latest(team_id, user_id, LINK_REQUEST_ACTION, within=LINK_REQUEST_EVERY)
            if earlier is not None:
                return earlier.created_at
        await self.audit.record(team_id, user_id, LINK_REQUEST_ACTION, user_id, None, {"providers": list(providers)})
        return None

    async def links_of(self, team_id: str, user_id: str, provider: Provider | None = None) -> list[LearnerLink]:
        """The person's links (one LMS, or every one), Zoho first."""
        wanted = [provider] if provider is not None else [Provider.ZOHO, Provider.ISPRING]
        found = [await self.links.get(team_id, user_id, p) for p in wanted]
        return [link for link in found if link is not None]

    async def unlink(
        self, team_id: str, slack_user_id: str, *, actor: str, provider: Provider | None = None
    ) -> list[LearnerLink]:
        removed = await self.links.unlink(team_id, slack_user_id, provider)
        for link in removed:
            await self.audit.record(
                team_id, actor, "unlink", f"{slack_user_id}:{link.provider}", {"learner_id": link.learner_id}, None
            )
        return removed

    async def learner_for(self, team_id: str, slack_user_id: str, provider: Provider) -> LearnerLink | None:
        return await self.links.get(team_id, slack_user_id, provider)

    async def auto_link(self, team_id: str, *, actor: str) -> AutoLinkReport:
        """Link every unlinked member whose Slack e-mail the LMS knows (iSpring; Zoho has no e-mail lookup)."""
        people = await self.slack.users(team_id)
        connected = await self.providers(team_id)
        skipped: list[str] = []
        linked: list[LinkResult] = []
        if Provider.ZOHO in connected:
            skipped.append("Zoho People has no documented way to find a learner by e-mail: import a CSV instead.")
        if Provider.ISPRING in connected:
            already = {link.slack_user_id for link in await self.links.list(team_id, Provider.ISPRING)}
            lms = await self.registry.for_team(team_id)
            directory = {u.email.lower(): u.user_id for u in await lms.ispring.users() if u.email}
            for person in people:
                if person.id in already or not person.email:
                    continue
                learner = directory.get(person.email.lower())
                if learner is None:
                    continue
                try:
                    linked.append(
                        await self.links.link(
                            team_id,
                            person.id,
                            Provider.ISPRING,
                            learner,
                            email=person.email.lower(),
                            method="auto",
                            linked_by=actor,
                        )
                    )
                except LinkConflict:
                    continue  # someone else already claimed that learner; leave it to an admin
        unmatched = await self.unmatched(team_id, people)
        return AutoLinkReport(linked=linked, unmatched=unmatched, skipped=skipped)

    async def unmatched(self, team_id: str, people: list[SlackUser] | None = None) -> list[SlackUser]:
        """Members with no link to any LMS yet."""
        people = people if people is not None else await self.slack.users(team_id)
        linked = {link.slack_user_id for link in await self.links.list(team_id)}
        return [p for p in people if p.id not in linked]

    async def import_csv(self, team_id: str, text: str, *, actor: str) -> CsvReport:
        """Rows of `slack user id or e-mail, learner id[, provider]`; a header row is allowed.

        The whole file is checked first (bad rows are reported by line number; nothing is silently dropped),
        then every good row is applied in one transaction: an import that fails or is killed half-way leaves
        nothing applied, and running the same file again changes nothing.
        """
        errors: list[CsvProblem] = []
        rows = _parse_csv(text, errors)
        users = await self._csv_users(team_id, rows, errors)
        connected = await self.providers(team_id)
        wanted: list[tuple[int, str, Provider, str]] = []  # line, Slack user, provider, learner id or e-mail
        for number, _who, learner, provider in rows:
            user_id = users.get(number)
            if user_id is None:
                continue
            try:
                chosen = _choose_provider(connected, learner, provider)
                if "@" in learner and not is_email(learner):
                    raise LinkError(Problem.NOT_AN_EMAIL, value=learner)
                if chosen is Provider.ZOHO and is_email(learner):
                    raise LinkError(Problem.ZOHO_NO_EMAIL_LOOKUP_ID)
                if chosen is Provider.ZOHO and not learner.isdigit():
                    raise LinkError(Problem.NOT_A_ZOHO_ID, value=learner)
            except LinkError as exc:
                errors.append(CsvProblem(number, exc))
                continue
            wanted.append((number, user_id, chosen, learner))
        by_email = await self._csv_learners_by_email(team_id, wanted, errors)
        report = CsvReport()
        specs: list[LinkSpec] = []
        lines: list[int] = []
        seen_user: dict[tuple[str, Provider], tuple[int, str]] = {}
        seen_learner: dict[tuple[Provider, str], tuple[int, str]] = {}
        for number, user_id, chosen, learner in wanted:
            email = learner.lower() if is_email(learner) else None
            learner_id = by_email.get(email) if email else learner
            if learner_id is None:
                continue  # the e-mail lookup reported it
            first = seen_user.get((user_id, chosen))
            if first is not None:
                if first[1] == learner_id:
                    report.unchanged += 1  # the same row twice changes nothing
                else:
                    problem = LinkError(Problem.CSV_USER_TWICE, user=user_id, line=str(first[0]))
                    errors.append(CsvProblem(number, problem))
                continue
            holder = seen_learner.get((chosen, learner_id))
            if holder is not None:
                problem = LinkError(Problem.CSV_LEARNER_TWICE, provider=chosen.value, line=str(holder[0]))
                errors.append(CsvProblem(number, problem))
                continue
            seen_user[(user_id, chosen)] = (number, learner_id)
            seen_learner[(chosen, learner_id)] = (number, user_id)
            specs.append(LinkSpec(user_id, chosen, learner_id, email))
            lines.append(number)
        outcomes = await self.links.link_many(team_id, specs, method="csv", linked_by=actor)
        for number, outcome in zip(lines, outcomes, strict=True):
            if isinstance(outcome, LinkConflict):
                taken = LinkError(Problem.LEARNER_TAKEN, provider=outcome.provider, holder=outcome.slack_user_id)
                errors.append(CsvProblem(number, taken))
            elif outcome.changed:
                report.linked.append(outcome)
            else:
                report.unchanged += 1
        report.errors = sorted(errors, key=lambda e: e.line)
        return report

    async def _csv_users(
        self, team_id: str, rows: list[tuple[int, str, str, Provider | None]], errors: list[CsvProblem]
    ) -> dict[int, str]:
        """Line number -> Slack user id; e-mails resolved with one look at the Slack directory."""
        found: dict[int, str] = {}
        people: dict[str, SlackUser] | None = None
        problem: str | None = None
        for number, who, _learner, _provider in rows:
            if user_id := slack_user_ref(who):
                found[number] = user_id
                continue
            if not is_email(who):
                errors.append(CsvProblem(number, LinkError(Problem.CSV_NOT_A_USER, value=who)))
                continue
            if people is None and problem is None:
                try:
                    people = {p.email.lower(): p for p in await self.slack.users(team_id) if p.email}
                except (SlackNotInstalled, SlackApiError) as exc:
                    problem = str(exc)
            if problem is not None or people is None:
                unavailable = LinkError(Problem.CSV_SLACK_UNAVAILABLE, value=who, detail=str(problem))
                errors.append(CsvProblem(number, unavailable))
                continue
            match = people.get(who.lower())
            if match is None:
                errors.append(CsvProblem(number, LinkError(Problem.CSV_NO_SLACK_MEMBER, email=who)))
                continue
            found[number] = match.id
        return found

    async def _csv_learners_by_email(
        self, team_id: str, wanted: list[tuple[int, str, Provider, str]], errors: list[CsvProblem]
    ) -> dict[str, str]:
        """iSpring learner ids of the e-mails in the learner column, a few dozen e-mails per request."""
        emails = sorted({learner.lower() for _n, _u, chosen, learner in wanted if is_email(learner)})
        found: dict[str, str] = {}
        problem: LinkError | None = None
        if emails:
            lms = await self.registry.for_team(team_id)
            try:
                for start in range(0, len(emails), _EMAILS_PER_LOOKUP):
                    for user in await lms.ispring.users(emails=emails[start : start + _EMAILS_PER_LOOKUP]):
                        email = (user.email or "").lower()
                        found.setdefault(email, user.user_id)
            except NotConnectedError:
                problem = LinkError(Problem.NOT_CONNECTED_HERE, provider=Provider.ISPRING.value)
            except LMSError as exc:
                problem = LinkError(Problem.CSV_LMS_UNAVAILABLE, detail=str(exc))
        for number, _user, _chosen, learner in wanted:
            if is_email(learner) and learner.lower() not in found:
                missing = LinkError(Problem.NO_LEARNER_WITH_EMAIL, email=learner.lower())
                errors.append(CsvProblem(number, problem or missing))
        return found

    async def _own_email(self, team_id: str, user_id: str, email: str) -> None:
        """Self-service e-mail links must use the caller's own Slack e-mail: otherwise anyone could link
        themselves to a colleague's record and read their progress."""
        me = await self.slack.user(team_id, user_id)
        if not me.email or me.email.lower() != email:
            raise LinkError(Problem.NOT_YOUR_EMAIL, email=me.email or "")

    async def _own_learner_id(self, team_id: str, provider: Provider, user_id: str, learner_id: str) -> None:
        """Self-service id links: the LMS must show that learner with the caller's own Slack e-mail."""
        if provider is Provider.ZOHO:
            raise LinkError(Problem.ZOHO_CANNOT_CONFIRM_ID)
        me = await self.slack.user(team_id, user_id)
        if not me.email:
            raise LinkError(Problem.NO_SLACK_EMAIL)
        email = me.email.lower()
        lms = await self.registry.for_team(team_id)
        try:
            matches = await lms.ispring.users(emails=[email])
        except NotConnectedError as exc:
            raise LinkError(Problem.NOT_CONNECTED_HERE, provider=Provider.ISPRING.value) from exc
        if not any(u.user_id == learner_id and (u.email or "").lower() == email for u in matches):
            raise LinkError(Problem.NOT_YOUR_LEARNER_ID, learner_id=learner_id, email=email)

    async def _learner_by_email(self, team_id: str, provider: Provider, email: str) -> str:
        if provider is Provider.ZOHO:
            raise LinkError(Problem.ZOHO_NO_EMAIL_LOOKUP)
        lms = await self.registry.for_team(team_id)
        try:
            matches = await lms.ispring.users(emails=[email])
        except NotConnectedError as exc:
            raise LinkError(Problem.NOT_CONNECTED_HERE, provider=Provider.ISPRING.value) from exc
        exact = [u for u in matches if (u.email or "").lower() == email]
        if not exact:
            raise LinkError(Problem.NO_LEARNER_WITH_EMAIL, email=email)
        return exact[0].user_id


def _choose_provider(connected: list[Provider], value: str, provider: Provider | None) -> Provider:
    if provider is not None:
        if provider not in connected:
            raise LinkError(Problem.NOT_CONNECTED_HERE, provider=provider.value)
        return provider
    if not connected:
        raise LinkError(Problem.NO_LMS_CONNECTED)
    if len(connected) == 1:
        return connected[0]
    return Provider.ISPRING if (_UUID.match(value) or is_email(value)) else Provider.ZOHO


def _parse_csv(text: str, errors: list[CsvProblem]) -> list[tuple[int, str, str, Provider | None]]:
    """(line, who, learner, provider) of each well-formed row; malformed ones go to `errors`."""
    rows: list[tuple[int, str, str, Provider | None]] = []
    reader = csv.reader(io.StringIO(text))
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            errors.append(CsvProblem(reader.line_num, LinkError(Problem.CSV_UNREADABLE, detail=str(exc))))
            return rows
        number += 1
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and not slack_user_ref(cells[0]) and not is_email(cells[0]):
            continue  # a header
        if len(cells) < 2 or not cells[1]:
            errors.append(CsvProblem(number, LinkError(Problem.CSV_TOO_FEW_CELLS)))
            continue
        provider: Provider | None = None
        if len(cells) > 2 and cells[2]:
            try:
                provider = Provider(cells[2].lower())
            except ValueError:
                errors.append(CsvProblem(number, LinkError(Problem.CSV_UNKNOWN_PROVIDER, value=cells[2])))
                continue
        rows.append((number, cells[0], cells[1], provider))


def provider_name(provider: Provider | str) -> str:
    return {"zoho": "Zoho People", "ispring": "iSpring"}.get(str(provider), str(provider))
