"""Reminders: who is due when (schedule), what they must still do (collect), one message each exactly once
(engine, delivery), and what the digest's buttons change (actions).

The Slack rendering is injected (`Renderer`); bot/reminders_root.py passes handlers.views.digest.DigestViews.
"""

from bot.reminders.actions import MessageRef, ReminderActions
from bot.reminders.engine import ReminderEngine
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders.types import Digest, ManagerDigest, Renderer, SessionReminder, UnlockedNotice

__all__ = [
    "Digest",
    "ManagerDigest",
    "MessageRef",
    "ReminderActions",
    "ReminderConfig",
    "ReminderEngine",
    "Renderer",
    "SessionReminder",
    "SweepReport",
    "UnlockedNotice",
]
