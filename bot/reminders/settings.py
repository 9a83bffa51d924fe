"""Reminder engine and scheduler settings, from REMINDER_* environment variables (and `.env`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.reminders.links import ISPRING_PLACEHOLDERS, ZOHO_PLACEHOLDERS, check_template
from storage.repositories.preferences import WEEKDAYS


class ReminderConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REMINDER_", env_file=".env", extra="ignore")

    # --- who runs the sweeps: `apscheduler` (`lmsbot scheduler`: one active process, a hot standby; SQLite or
    # PostgreSQL) or `procrastinate` (`lmsbot worker`: jobs in PostgreSQL, one sweep job per workspace and period,
    # run by any number of workers; bot/worker.py)
    executor: Literal["apscheduler", "procrastinate"] = "apscheduler"
    # procrastinate workers say they are alive this often; one silent for `worker_stalled_seconds` is taken to
    # be dead and its jobs are run again by the others.
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0)
    worker_stalled_seconds: float = Field(default=30.0, gt=0)

    # --- the scheduler (`lmsbot scheduler`)
    sweep_minutes: float = Field(default=5.0, gt=0)  # how often a sweep looks for due reminders
    # A sweep that could not start on time (worker busy or restarting) still runs if at most this late.
    misfire_grace_seconds: int = Field(default=600, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)  # a dead scheduler's standby takes over after this
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)  # SIGTERM: let the running sweep finish this long
    prune_days: int = Field(default=90, ge=1)  # the sent log is kept this long

    # --- exactly once
    # An unconfirmed claim older than this is taken to belong to a dead worker and is retried.
    claim_stale_seconds: float = Field(default=600.0, gt=0)

    # --- planning LMS calls
    concurrency: int = Field(default=4, ge=1)  # learners worked on at once (per workspace)
    workspace_concurrency: int = Field(default=4, ge=1)  # workspaces swept at once
    # Learners a sweep works through at a time: their cached LMS answers and sent digests are read per batch,
    # so the scheduler's memory does not grow with the number of learners.
    sweep_batch: int = Field(default=200, ge=1)
    # A workspace's LMS reads in one sweep stop after this long (real seconds); learners whose data is still
    # missing wait for the next sweep. Under the sweep interval, so one LMS never delays the next sweep.
    workspace_lms_seconds: float = Field(default=240.0, gt=0)
    # LMS answers younger than this are used as they are for a digest (cache shared with /lms and App Home).
    fresh_seconds: float = Field(default=3600.0, ge=0)
    # The planner (bot/reminders/planner.py) re-reads each (learner, module) once within the `plan_hours` before
    # the learner's send time, as late as the LMS budget allows, and has it done `prefetch_minutes` before
    # (0: no refresh ahead; every digest reads at its send time).
    plan_hours: float = Field(default=24.0, gt=0)
    prefetch_minutes: float = Field(default=15.0, ge=0)
    # The share of the LMS's rate (per minute and per day) the planner counts on; the rest is slack for
    # people's commands, session reminders and module settings.
    plan_rate_share: float = Field(default=0.8, gt=0, le=1)
    # At its send time a digest waits at most this long (real or virtual seconds) for a fresher LMS answer;
    # past it, the digest is built from the cached copy and says "as of <date>".
    digest_wait_seconds: float = Field(default=10.0, ge=0)
    # A module known complete is not fetched again for this many days (sticky completion).
    complete_recheck_days: float = Field(default=14.0, ge=0)
    # Module settings (lock type and date) and course module order change rarely.
    settings_max_age_seconds: float = Field(default=6 * 3600.0, ge=0)
    # When the LMS is down, a cached copy this old is still good enough for a digest.
    max_stale_seconds: float = Field(default=86400.0, ge=0)
    # Sent digests still showing pending items are re-checked (to tick items off in place) with at most
    # this many LMS calls per sweep, oldest data first, once their data is older than `refresh_after_seconds`:
    # ten minutes, so finished work stops being nagged within a sweep or two (the per-sweep cap keeps the
    # LMS budget bounded however many digests are out).
    refresh_calls_per_sweep: int = Field(default=20, ge=0)
    refresh_after_seconds: float = Field(default=600.0, ge=0)
    # With bulk reads on (ZOHO_BULK_READS, verified), those re-checks re-read only the modules whose bulk record
    # changed since the cached read, from a bulk answer at most this many hours old (read again when older). The
    # answer costs a call per 25 learners of each tracked course, so the default leaves it to the planner's daily
    # read; lower it for changes to show sooner without a command (each read more: about 0.04 calls per
    # (learner, module) a day at 1,000 learners).
    refresh_bulk_hours: float = Field(default=24.0, gt=0)
    recent_days: int = Field(default=7, ge=1)  # digests this recent are updated in place

    # --- what is reminded
    session_day_before_hours: float = Field(default=24.0, ge=0)  # 0: no day-before session reminder
    session_soon_minutes: float = Field(default=60.0, ge=0)  # 0: no shortly-before reminder
    session_optional: bool = False  # also remind about sessions that are not mandatory
    # Gone: the LMS's zone is LMS_TIMEZONE alone, so commands, Home and digests show one session at one time. Kept
    # as a field only to refuse an operator's old REMINDER_LMS_TIMEZONE rather than ignore it.
    lms_timezone: str | None = None
    ispring_due_soon_days: int = Field(default=3, ge=0)
    manager_digest: bool = True  # the weekly "who is overdue on what" for managers and admins
    manager_digest_weekday: str = "mon"
    # "Open in LMS" (one button per module), REMINDER_ZOHO_ITEM_URL and REMINDER_ISPRING_ITEM_URL: placeholders
    # {course_id} {batch_id} {module_id} {item_id} (Zoho; {entity_id} is the same as {item_id}) and {course_id}
    # {module_id} {item_id} (iSpring: its courseItemId; used when iSpring gives no viewUrl for the module). No
    # vendor documents such an address, so there is no default: unset, Zoho digests offer the Zoho People home
    # page once and iSpring items without a viewUrl have no button.
    zoho_item_url: str | None = None
    ispring_item_url: str | None = None

    @field_validator("zoho_item_url", "ispring_item_url", mode="before")
    @classmethod
    def _template(cls, value: object, info: ValidationInfo) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        allowed = ZOHO_PLACEHOLDERS if info.field_name == "zoho_item_url" else ISPRING_PLACEHOLDERS
        return check_template(value, allowed)

    @property
    def complete_recheck_seconds(self) -> float:
        return self.complete_recheck_days * 86400.0

    @field_validator("lms_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        raise ValueError("is no longer read: set LMS_TIMEZONE (one zone for commands and reminders)")

    @field_validator("manager_digest_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()[:3]
        if day not in WEEKDAYS:
            raise ValueError(f"weekday must be one of {', '.join(WEEKDAYS)}")
        return day
