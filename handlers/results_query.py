"""`/lms results`' query, shared by the command and its paging and CSV buttons: the caller's filter, scoped to
their team (admins: `all` for everyone), with names."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.lms.errors import ValidationError
from bot.lms.ispring_models import CompletionStatus, ResultsFilter
from bot.services.learning import LearningService
from bot.services.links import LinkService
from bot.services.people import PeopleService
from bot.services.roles import RoleService
from bot.services.slack_gateway import SlackGateway
from bot.services.types import Provider, ResultsReport
from handlers.invocation import Invocation, mentioned


@dataclass(frozen=True, slots=True)
class ResultsServices:
    """What `/lms results` (and its paging and CSV buttons) use."""

    roles: RoleService
    people: PeopleService
    learning: LearningService
    links: LinkService
    slack: SlackGateway


async def results_report(s: ResultsServices, inv: Invocation) -> tuple[ResultsReport, str]:
    """The caller's filtered results, scoped to their team (admins: `all` for everyone), with names."""
    roles = await s.roles.require_manager(inv.team_id, inv.user_id, "see iSpring results")
    everyone = any(word.lower() == "all" for word in inv.args)
    flt, overdue_only, title = await results_filter(s, replace(inv, args=[w for w in inv.args if w.lower() != "all"]))
    scope = await s.people.scope(inv.team_id, inv.user_id, admin=roles.admin, everyone=everyone)
    if scope.department_ids is not None:
        flt = replace(flt, department_ids=scope.department_ids)
    report = await s.learning.results(inv.team_id, flt, overdue_only=overdue_only)
    directory = await s.people.directory(inv.team_id)
    names = {**directory.slack_ids(), **report.names}
    return replace(report, names=names, people=directory.names(), scope=scope.label), title


async def results_filter(s: ResultsServices, inv: Invocation) -> tuple[ResultsFilter, bool, str]:
    """`results [overdue] [status=…] [course=…] [module=…] [@user]` → the iSpring filter."""
    statuses: list[str] = []
    courses: list[str] = []
    modules: list[str] = []
    users: list[str] = []
    overdue = False
    for word in inv.args:
        key, _, value = word.partition("=")
        if word.lower() == "overdue":
            overdue = True
        elif key == "status" and value:
            statuses += value.split(",")
        elif word in {c.value for c in CompletionStatus}:
            statuses.append(word)
        elif key == "course" and value:
            courses.append(value)
        elif key == "module" and value:
            modules.append(value)
        elif word.startswith(("<@", "@")) and (user := await mentioned(s.slack, inv, word)):
            link = await s.links.learner_for(inv.team_id, user, Provider.ISPRING)
            if link is None:
                raise ValidationError(f"<@{user}> is not linked to an iSpring learner.")
            users.append(link.learner_id)
        else:
            raise ValidationError(
                f"`{word}` is not a results filter. Use overdue, status=…, course=…, module=…, @someone or all."
            )
    title = "Overdue modules" if overdue else "Module results"
    return (
        ResultsFilter(
            user_ids=tuple(users),
            course_ids=tuple(courses),
            module_ids=tuple(modules),
            completion_statuses=tuple(statuses),
        ),
        overdue,
        title,
    )
