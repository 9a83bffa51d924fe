"""The Update Modules request: validated field by field before anything is sent to Zoho.

Both the CLI and the Slack modal build updates here, so a bad value gets the same clear message
(keyed by field, so the modal can show it inline) and nothing reaches the LMS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.lms.dates import DateOrder, DateParseError, format_zoho_date, is_empty, parse_date
from bot.lms.errors import ValidationError
from bot.lms.zoho_models import LockType

LOCK_TYPE_LABELS: dict[LockType, str] = {
    LockType.UNLOCKED: "Unlocked",
    LockType.UNTIL_DATE: "Locked until a date",
    LockType.UNTIL_PREVIOUS_COMPLETED: "Locked until the previous module is completed",
}


class ModuleUpdateError(ValidationError):
    """One or more fields are invalid; `field_errors` maps field name to a plain-words message."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        self.field_errors = field_errors
        super().__init__("; ".join(f"{field}: {text}" for field, text in field_errors.items()))


@dataclass(frozen=True, slots=True)
class ModuleUpdate:
    name: str
    duration: float | None = None
    description: str | None = None
    lock_type: LockType = LockType.UNLOCKED
    lock_until: date | None = None

    def to_module_data(self) -> dict[str, Any]:
        """The documented `moduleData` object, keys in the documented order.

        `lockUntil` only means something for "locked until date", so it is sent only then.
        """
        data: dict[str, Any] = {"name": self.name}
        if self.duration is not None:
            data["duration"] = int(self.duration) if self.duration.is_integer() else self.duration
        if self.description is not None:
            data["description"] = self.description
        data["lockType"] = int(self.lock_type)
        if self.lock_type is LockType.UNTIL_DATE and self.lock_until is not None:
            data["lockUntil"] = format_zoho_date(self.lock_until)
        return data


def validate_module_update(
    *,
    name: object,
    duration: object = None,
    description: object = None,
    lock_type: object = None,
    lock_until: object = None,
    date_order: DateOrder = DateOrder.DMY,
) -> ModuleUpdate:
    """Check raw values (strings from a CLI or a modal, or typed values) and build the update.

    Rules from the Zoho page: name is mandatory; lockType is 0, 1 or 2 (default 0); lockUntil is a
    DD-MM-YYYY date and is required for lockType 1; duration is in minutes and must be positive.
    """
    errors: dict[str, str] = {}

    clean_name = "" if name is None else str(name).strip()
    if not clean_name:
        errors["name"] = "A module name is required."

    clean_duration: float | None = None
    if not is_empty(duration):
        try:
            clean_duration = float(str(duration).strip())
        except ValueError:
            errors["duration"] = "Duration must be a number of minutes, e.g. 45."
        else:
            if not math.isfinite(clean_duration) or clean_duration <= 0:
                errors["duration"] = "Duration must be a positive number of minutes."

    clean_description = None if description is None else str(description)

    clean_lock = LockType.UNLOCKED
    if not is_empty(lock_type):
        try:
            clean_lock = LockType(int(str(lock_type).strip()))
        except ValueError:
            errors["lock_type"] = "Lock type must be 0 (unlocked), 1 (until a date) or 2 (until previous module)."

    clean_until: date | None = None
    if not is_empty(lock_until):
        try:
            clean_until = parse_date(lock_until, date_order)
        except DateParseError:
            errors["lock_until"] = "Lock-until must be a date in DD-MM-YYYY form, e.g. 31-12-2026."
    if clean_lock is LockType.UNTIL_DATE and clean_until is None and "lock_until" not in errors:
        errors["lock_until"] = "A lock-until date is required when the module is locked until a date."

    if errors:
        raise ModuleUpdateError(errors)
    return ModuleUpdate(
        name=clean_name,
        duration=clean_duration,
        description=clean_description,
        lock_type=clean_lock,
        lock_until=clean_until if clean_lock is LockType.UNTIL_DATE else None,
    )
