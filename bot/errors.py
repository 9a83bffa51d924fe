"""`UserError`: the one base of every error a person may see, and `Problem`: what can go wrong for them.

It sits at the bottom of `bot` and imports nothing of it, so services and the LMS clients may all derive from it
without crossing the import-linter layers.

Services say *what* went wrong, not how to put it: they raise a `UserError` with a `Problem` and the data its
sentence needs (`details`), and `handlers/views/problems.py` words it, the same in Slack, in the terminal
(`lmsbot link …`) and on the connect page. An error that carries words of its own (an LMS's ValidationError, an
input error a listener raises, storage's validation words) has no Problem and shows `message` as it is (it may
carry Slack mrkdwn such as `/lms link` or a <@U…> mention, so it is not escaped). Any other exception is an
operator's problem: logged with the request id, never shown.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class Problem(StrEnum):
    """Everything a service refuses a person for, by name; its `details` are listed beside it."""

    # connecting an LMS (bot.services.connections)
    ZOHO_CLIENT_MISSING = "zoho_client_missing"  # redirect_uri
    ZOHO_CLIENT_NOT_CONFIGURED = "zoho_client_not_configured"
    UNKNOWN_DATA_CENTER = "unknown_data_center"  # detail: the configuration's own words
    CONNECT_LINK_EXPIRED = "connect_link_expired"
    ZOHO_REFUSED_GRANT = "zoho_refused_grant"  # lms_message
    UNKNOWN_ACCOUNTS_SERVER = "unknown_accounts_server"  # server
    ISPRING_KEY_INCOMPLETE = "ispring_key_incomplete"
    ISPRING_KEY_REFUSED = "ispring_key_refused"  # lms_message
    # linking people to learners (bot.services.links)
    NO_LEARNER_GIVEN = "no_learner_given"
    NOT_AN_EMAIL = "not_an_email"  # value
    NOT_A_ZOHO_ID = "not_a_zoho_id"  # value
    SELF_LINK_BY_EMAIL_ONLY = "self_link_by_email_only"
    LEARNER_TAKEN = "learner_taken"  # provider, holder (a Slack user id; "" when not to be named)
    NOT_YOUR_EMAIL = "not_your_email"  # email ("" when Slack shows none)
    NO_SLACK_EMAIL = "no_slack_email"
    ZOHO_CANNOT_CONFIRM_ID = "zoho_cannot_confirm_id"
    NOT_YOUR_LEARNER_ID = "not_your_learner_id"  # learner_id, email
    ZOHO_NO_EMAIL_LOOKUP = "zoho_no_email_lookup"  # someone linking themselves by e-mail
    ZOHO_NO_EMAIL_LOOKUP_ID = "zoho_no_email_lookup_id"  # an admin or a file: use the id
    ZOHO_NO_EMAIL_LOOKUP_KEPT = "zoho_no_email_lookup_kept"  # one LMS of a self-link by e-mail
    NO_LEARNER_WITH_EMAIL = "no_learner_with_email"  # email
    NOT_CONNECTED_HERE = "not_connected_here"  # provider
    NO_LMS_CONNECTED = "no_lms_connected"
    # a file of links (`lmsbot link --file`), line by line
    CSV_NOT_A_USER = "csv_not_a_user"  # value
    CSV_SLACK_UNAVAILABLE = "csv_slack_unavailable"  # value, detail
    CSV_NO_SLACK_MEMBER = "csv_no_slack_member"  # email
    CSV_USER_TWICE = "csv_user_twice"  # user, line
    CSV_LEARNER_TWICE = "csv_learner_twice"  # provider, line
    CSV_LMS_UNAVAILABLE = "csv_lms_unavailable"  # detail
    CSV_UNREADABLE = "csv_unreadable"  # detail: the CSV reader's words
    CSV_TOO_FEW_CELLS = "csv_too_few_cells"
    CSV_UNKNOWN_PROVIDER = "csv_unknown_provider"  # value
    # reading learning data (bot.services.learning, module_edit, people)
    NOT_LINKED = "not_linked"  # provider
    NO_SUCH_MODULE = "no_such_module"  # ref
    NO_SUCH_MODULE_TO_SHOW = "no_such_module_to_show"  # ref
    NOTHING_TRACKED = "nothing_tracked"
    NO_BLENDED_BATCH = "no_blended_batch"
    LMS_NOT_CONNECTED = "lms_not_connected"  # provider
    ONLY_ZOHO_EDITABLE = "only_zoho_editable"
    ONLY_ADMINS_SEE_EVERYONE = "only_admins_see_everyone"
    NO_TEAM_NO_DEPARTMENT = "no_team_no_department"
    NO_TEAM_NOT_LINKED = "no_team_not_linked"
    NO_TEAM_DEPARTMENTS_UNREADABLE = "no_team_departments_unreadable"  # lms_message
    # tracking modules (bot.services.tracking)
    ZOHO_NO_MODULE = "zoho_no_module"  # module_id, course_id, batch_id ("" for none)
    ALIAS_TAKEN = "alias_taken"  # alias
    ISPRING_NOT_CONNECTED_TRACK = "ispring_not_connected_track"
    ISPRING_NO_COURSE = "ispring_no_course"  # course_id
    ISPRING_NO_MODULE = "ispring_no_module"  # course_id, module_id
    MODULE_TRACKED_TWICE = "module_tracked_twice"  # candidates (tracked ids, comma-separated)
    # reminder settings (bot.reminders.parse)
    NOT_A_TIME_OF_DAY = "not_a_time_of_day"  # value; "write it like 09:00 or 5pm"
    NOT_A_TIME = "not_a_time"  # value
    QUIET_NOT_A_RANGE = "quiet_not_a_range"
    SNOOZE_SPAN = "snooze_span"
    NOT_A_SNOOZE = "not_a_snooze"  # value
    NOT_A_DATE = "not_a_date"  # value
    SNOOZE_DAY_OUT_OF_RANGE = "snooze_day_out_of_range"


class UserError(Exception):
    """An error a person may see: a `Problem` with its `details` (worded by the views), or words of its own."""

    def __init__(self, problem: Problem | str, **details: str) -> None:
        self.problem = problem if isinstance(problem, Problem) else None
        self.details = details
        # For an error with a Problem: its name and data, for logs (the person sees the view's sentence).
        self.message = str(problem) if self.problem is None else _described(self.problem, details)
        super().__init__(self.message)

    @classmethod
    def recast(cls, exc: UserError) -> Self:
        """The same problem, raised as this kind of error (a tracking refusal met while changing a preference)."""
        if exc.problem is not None:
            return cls(exc.problem, **exc.details)
        return cls(exc.message)


def _described(problem: Problem, details: dict[str, str]) -> str:
    data = ", ".join(f"{name}={value!r}" for name, value in details.items())
    return f"{problem.value} ({data})" if data else problem.value
