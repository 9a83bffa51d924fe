"""The reminder engine's and scheduler's settings (REMINDER_*): `ReminderConfig`, defined with the one composed
`Settings` in bot.config (`Settings.reminders`) and named here too, where the reminder modules import it from."""

from __future__ import annotations

from bot.config import ReminderConfig

__all__ = ["ReminderConfig"]
