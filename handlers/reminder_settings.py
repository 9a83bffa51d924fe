"""`/lms remind …`: the caller's own reminder preferences."""

from __future__ import annotations

import re

from bot.container import Services
from bot.services.preferences import PreferenceError
from handlers.views import SlackMessage, bad_arguments_message, reminder_settings_message
from handlers.views.kit import message, section

_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*([ap]m)?$", re.IGNORECASE)
_USAGE = (
    "on · off · at HH:MM · days mon,tue,… · quiet HH:MM-HH:MM · quiet off · digest on|off · "
    "mute <module> · unmute <module> · status"
)


def parse_clock(text: str) -> str:
    """ "9", "9:30", "09:30", "5pm", "5:15 PM" → "HH:MM" (24-hour)."""
    m = _TIME.match(text.strip())
    if not m:
        raise PreferenceError(f"`{text}` is not a time of day; write it like 09:00 or 5pm.")
    hour, minute = int(m[1]), int(m[2] or 0)
    if m[3]:
        if not 1 <= hour <= 12:
            raise PreferenceError(f"`{text}` is not a time of day.")
        hour = hour % 12 + (12 if m[3].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        raise PreferenceError(f"`{text}` is not a time of day.")
    return f"{hour:02d}:{minute:02d}"


async def remind_command(s: Services, team_id: str, user_id: str, args: list[str]) -> SlackMessage:
    prefs = s.reminder_prefs
    word = args[0].lower() if args else "status"
    rest = args[1:]
    try:
        if word == "status":
            settings = await prefs.settings(team_id, user_id)
            return reminder_settings_message(settings)
        await prefs.remember_timezone(team_id, user_id)
        if word == "on":
            settings = await prefs.update(team_id, user_id, enabled=True, snoozed_until=None)
            note = "Reminders are on."
        elif word == "off":
            settings = await prefs.update(team_id, user_id, enabled=False)
            note = "Reminders are off. `/lms remind on` brings them back."
        elif word == "at" and rest:
            settings = await prefs.update(team_id, user_id, send_time=parse_clock(" ".join(rest)), enabled=True)
            note = f"Reminders will come at {settings.send_time}, your time."
        elif word == "days" and rest:
            settings = await prefs.update(team_id, user_id, weekdays=",".join(rest))
            note = "Reminder days updated."
        elif word == "quiet" and rest and rest[0].lower() == "off":
            settings = await prefs.update(team_id, user_id, quiet_start=None, quiet_end=None)
            note = "Quiet hours removed."
        elif word == "quiet" and rest:
            start, _, end = " ".join(rest).replace(" ", "").partition("-")
            if not end:
                raise PreferenceError("Write quiet hours as a range, e.g. `quiet 18:00-08:00`.")
            settings = await prefs.update(team_id, user_id, quiet_start=parse_clock(start), quiet_end=parse_clock(end))
            note = f"No reminders between {settings.quiet_start} and {settings.quiet_end}."
        elif word == "digest":
            current = await prefs.settings(team_id, user_id)
            wanted = (rest[0].lower() == "on") if rest else not current.digest
            settings = await prefs.update(team_id, user_id, digest=wanted)
            note = "Weekly overdue digest (for managers) is " + ("on." if wanted else "off.")
        elif word in ("mute", "unmute") and rest:
            tracked = await (prefs.mute if word == "mute" else prefs.unmute)(team_id, user_id, rest[0])
            settings = await prefs.settings(team_id, user_id)
            note = f"`{tracked.label}` is {'muted' if word == 'mute' else 'unmuted'}."
        else:
            return bad_arguments_message("remind", problem=f"Try one of: {_USAGE}")
    except PreferenceError as exc:
        text = str(exc)
        return message(text, [section(f":warning: {text}")])
    status = reminder_settings_message(settings)
    return message(note, [section(f":white_check_mark: {note}"), *status["blocks"]])
