"""What a refusal says: the sentence for each `bot.errors.Problem`, filled in from the error's details.

One wording wherever it shows: a Slack reply or inline modal error (through the error boundary), the Home
tab's note, the terminal (`lmsbot link …`, bot.admin_cli) and the Zoho connect page (bot.web). The words keep
their mrkdwn (backticks, <@U…> mentions); a terminal or a web page makes them readable there. Nothing here
reaches Slack: no Block Kit here, and no other view is needed to word a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.errors import Problem, UserError
from bot.reminders.parse import MAX_SNOOZE_DAYS
from bot.services.links import provider_name
from bot.services.tracking import Unchecked
from bot.services.types import Provider

Details = Mapping[str, str]

SNOOZE_FORMS = "`snooze 1d`, `snooze 1w` or `snooze until 2026-12-24` (or a weekday: `snooze until monday`)"
_NO_TEAM = (
    "There is no team to show: {why}. An admin can map you to departments with `LMSBOT_MANAGER_DEPARTMENTS` "
    "(see the README)."
)


def _lms(d: Details) -> str:
    return provider_name(d.get("provider", ""))


def _no_team(why: str) -> str:
    return _NO_TEAM.format(why=why)


def _zoho_no_module(d: Details) -> str:
    where = f"course {d['course_id']}" + (f", batch {d['batch_id']}" if d.get("batch_id") else "")
    return f"Zoho has no module {d['module_id']} in {where}."


_TEXTS: dict[Problem, Callable[[Details], str]] = {
    # connecting an LMS
    Problem.ZOHO_CLIENT_MISSING: lambda d: (
        "The bot has no Zoho OAuth client yet: its operator sets ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET "
        f"(redirect URI {d['redirect_uri']})."
    ),
    Problem.ZOHO_CLIENT_NOT_CONFIGURED: lambda d: "The bot has no Zoho OAuth client configured.",
    Problem.UNKNOWN_DATA_CENTER: lambda d: d["detail"].capitalize() + ".",
    Problem.CONNECT_LINK_EXPIRED: lambda d: (
        "This connect link has expired or was already used. Run `/lms connect zoho` again."
    ),
    Problem.ZOHO_REFUSED_GRANT: lambda d: f"Zoho did not accept the authorization: {d['lms_message']}",
    Problem.UNKNOWN_ACCOUNTS_SERVER: lambda d: (
        f"Zoho redirected from an unknown accounts server ({d['server']}); nothing was saved."
    ),
    Problem.ISPRING_KEY_INCOMPLETE: lambda d: "Both the iSpring client id and client secret are needed.",
    Problem.ISPRING_KEY_REFUSED: lambda d: f"iSpring did not accept this API key: {d['lms_message']}",
    # linking people to learners
    Problem.NO_LEARNER_GIVEN: lambda d: "Say which learner: a learner id or an e-mail address.",
    Problem.NOT_AN_EMAIL: lambda d: f"`{d['value']}` is not an e-mail address.",
    Problem.NOT_A_ZOHO_ID: lambda d: (
        f"`{d['value']}` is not a Zoho People learner id (those are numbers, e.g. 100002000000032145)."
    ),
    Problem.SELF_LINK_BY_EMAIL_ONLY: lambda d: (
        "Link yourself with your e-mail address (`/lms link you@company.com`), "
        "or ask an admin to link you by learner id."
    ),
    Problem.LEARNER_TAKEN: lambda d: (
        f"That {_lms(d)} learner is already linked to "
        + (f"<@{d['holder']}>" if d.get("holder") else "someone else")
        + "; an admin can sort it out."
    ),
    Problem.NOT_YOUR_EMAIL: lambda d: (
        f"You can link yourself only with your own e-mail ({d.get('email') or 'Slack shows none for you'}). "
        "An admin can link you to a different address: `/lms link @you <learner>`."
    ),
    Problem.NO_SLACK_EMAIL: lambda d: (
        "Slack shows no e-mail for you, so the LMS cannot confirm that id is yours: ask an admin."
    ),
    Problem.ZOHO_CANNOT_CONFIRM_ID: lambda d: (
        "Zoho People cannot confirm whose learner id that is: ask an admin to link you (`/lms link @you <learner id>`)."
    ),
    Problem.NOT_YOUR_LEARNER_ID: lambda d: (
        f"iSpring does not show learner `{d['learner_id']}` with your e-mail ({d['email']}): "
        "link yourself with your e-mail, or ask an admin to link you."
    ),
    Problem.ZOHO_NO_EMAIL_LOOKUP: lambda d: "Zoho People cannot look learners up by e-mail: ask an admin to link you.",
    Problem.ZOHO_NO_EMAIL_LOOKUP_ID: lambda d: "Zoho People cannot look learners up by e-mail: use the learner id.",
    Problem.ZOHO_NO_EMAIL_LOOKUP_KEPT: lambda d: "Zoho People has no way to look a learner up by e-mail",
    Problem.NO_LEARNER_WITH_EMAIL: lambda d: f"iSpring has no learner with the e-mail {d['email']}.",
    Problem.NOT_CONNECTED_HERE: lambda d: f"{_lms(d)} is not connected in this workspace.",
    Problem.NO_LMS_CONNECTED: lambda d: (
        "No LMS is connected yet: an admin can run `/lms connect zoho` or `/lms connect ispring`."
    ),
    # a file of links, line by line
    Problem.CSV_NOT_A_USER: lambda d: f"`{d['value']}` is neither a Slack user id nor an e-mail",
    Problem.CSV_SLACK_UNAVAILABLE: lambda d: f"cannot look {d['value']} up in Slack ({d['detail']})",
    Problem.CSV_NO_SLACK_MEMBER: lambda d: f"no Slack member has the e-mail {d['email']}",
    Problem.CSV_USER_TWICE: lambda d: f"<@{d['user']}> is linked to another learner on line {d['line']}",
    Problem.CSV_LEARNER_TWICE: lambda d: f"that {_lms(d)} learner is already on line {d['line']}",
    Problem.CSV_LMS_UNAVAILABLE: lambda d: d["detail"],
    Problem.CSV_UNREADABLE: lambda d: f"this line cannot be read as CSV ({d['detail']})",
    Problem.CSV_TOO_FEW_CELLS: lambda d: "expected `slack user or e-mail, learner id`",
    Problem.CSV_UNKNOWN_PROVIDER: lambda d: f"unknown provider `{d['value']}` (zoho or ispring)",
    # reading learning data
    Problem.NOT_LINKED: lambda d: (
        f"You are not linked to a {_lms(d)} learner yet. Run `/lms link <learner id or e-mail>` (or ask an admin)."
    ),
    Problem.NO_SUCH_MODULE: lambda d: f"No tracked module is called `{d['ref']}`.",
    Problem.NO_SUCH_MODULE_TO_SHOW: lambda d: (
        f"No tracked module is called `{d['ref']}`. `/lms progress` lists them all."
    ),
    Problem.NOTHING_TRACKED: lambda d: "No modules are tracked yet: an admin can add them with `/lms track`.",
    Problem.NO_BLENDED_BATCH: lambda d: (
        "None of the tracked modules belongs to a blended-learning batch, so there are no sessions."
    ),
    Problem.LMS_NOT_CONNECTED: lambda d: (
        f"{_lms(d)} is not connected yet: an admin can run `/lms connect {d['provider']}`."
    ),
    Problem.ONLY_ZOHO_EDITABLE: lambda d: "Only Zoho People modules can be edited.",
    Problem.ONLY_ADMINS_SEE_EVERYONE: lambda d: (
        "Only admins can see everyone's results; `/lms results` shows your team."
    ),
    Problem.NO_TEAM_NO_DEPARTMENT: lambda d: _no_team("iSpring names you as the supervisor of no department"),
    Problem.NO_TEAM_NOT_LINKED: lambda d: _no_team(
        "you are not linked to an iSpring user (and none has your Slack e-mail)"
    ),
    Problem.NO_TEAM_DEPARTMENTS_UNREADABLE: lambda d: _no_team(
        f"iSpring's departments could not be read ({d['lms_message']})"
    ),
    # tracking modules
    Problem.ZOHO_NO_MODULE: _zoho_no_module,
    Problem.ALIAS_TAKEN: lambda d: f"The alias `{d['alias']}` is already used by another tracked module.",
    Problem.ISPRING_NOT_CONNECTED_TRACK: lambda d: (
        "iSpring is not connected yet: an admin can run /lms connect ispring."
    ),
    Problem.ISPRING_NO_COURSE: lambda d: f"iSpring has no course {d['course_id']}.",
    Problem.ISPRING_NO_MODULE: lambda d: f"iSpring course {d['course_id']} has no module {d['module_id']}.",
    Problem.MODULE_TRACKED_TWICE: lambda d: (
        "That module id is tracked more than once ("
        + ", ".join(f"#{i}" for i in d["candidates"].split(","))
        + "): use its alias or #id."
    ),
    # reminder settings
    Problem.NOT_A_TIME_OF_DAY: lambda d: f"`{d['value']}` is not a time of day; write it like 09:00 or 5pm.",
    Problem.NOT_A_TIME: lambda d: f"`{d['value']}` is not a time of day.",
    Problem.QUIET_NOT_A_RANGE: lambda d: "Write quiet hours as a range, e.g. `quiet 18:00-08:00`.",
    Problem.SNOOZE_SPAN: lambda d: f"Snooze for 1 to {MAX_SNOOZE_DAYS} days; write {SNOOZE_FORMS}.",
    Problem.NOT_A_SNOOZE: lambda d: f"`{d['value']}` is not a snooze; write {SNOOZE_FORMS}.",
    Problem.NOT_A_DATE: lambda d: f"`{d['value']}` is not a date; write {SNOOZE_FORMS}.",
    Problem.SNOOZE_DAY_OUT_OF_RANGE: lambda d: (
        f"Snooze until a day after today and within a year; write {SNOOZE_FORMS}."
    ),
}


def unchecked_note(unchecked: Unchecked) -> str:
    """Beside a module tracked without the LMS's word that it exists."""
    lms = "Zoho" if unchecked.provider is Provider.ZOHO else "iSpring"
    return f"Not checked with {lms} just now ({unchecked.lms_message}); tracked anyway."


def problem_text(exc: UserError) -> str:
    """The sentence a person reads for this refusal (its own words when it carries no Problem)."""
    if exc.problem is None:
        return exc.message
    return _TEXTS[exc.problem](exc.details)


def worded(problem: Problem) -> bool:
    return problem in _TEXTS
