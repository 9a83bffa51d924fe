"""The Update Modules request: validated field by field before anything is sent to Zoho.

Both the CLI and the Slack modal build updates here, so a bad value gets the same clear message
(keyed by field, so the modal can show it inline) and nothing reaches the LMS.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import quote

from bot.lms.dates import DateOrder, DateParseError, format_zoho_date, is_empty, parse_date
from bot.lms.errors import ValidationError
from bot.lms.zoho_models import LockType

LOCK_TYPE_LABELS: dict[LockType, str] = {
    LockType.UNLOCKED: "Unlocked",
    LockType.UNTIL_DATE: "Locked until a date",
    LockType.UNTIL_PREVIOUS_COMPLETED: "Locked until the previous module is completed",
}


# Zoho's Update Modules PATCH carries moduleData in the URL query. Proxies and servers commonly refuse URLs over
# 8 KB (and httpx refuses any over 64 KiB), so the JSON, percent-encoded, is kept under MODULE_DATA_MAX_ENCODED;
# the scheme, host and the three 18-digit ids of the path take well under the remaining ~1 KB.
MODULE_DATA_MAX_ENCODED: Final = 7000
# Character caps for the inputs (Slack's max_length). Plain text of these sizes fits the budget above; other
# scripts, emoji and escaped punctuation take up to 12 encoded characters each, so the encoded size is checked too.
NAME_MAX_CHARS: Final = 255
DESCRIPTION_MAX_CHARS: Final = 2000
DURATION_MAX_MINUTES: Final = 100_000  # about 69 days: anything longer is a typo


def module_data_json(data: dict[str, Any]) -> str:
    """moduleData as sent to Zoho (compact, UTF-8 as is)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def encoded_size(data: dict[str, Any]) -> int:
    """moduleData's length once percent-encoded into a URL: every byte outside A-Z, a-z, 0-9 and `_.-~` as %XX
    (the most any encoder produces)."""
    return len(quote(module_data_json(data), safe=""))


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
    today: date | None = None,
) -> ModuleUpdate:
    """Check raw values (strings from a CLI or a modal, or typed values) and build the update.

    Rules from the Zoho page: name is mandatory; lockType is 0, 1 or 2 (default 0); lockUntil is a
    DD-MM-YYYY date and is required for lockType 1; duration is in minutes and must be positive.
    Ours: the caps above, and, given `today` (in the LMS's zone), no lock-until date in the past.
    """
    errors: dict[str, str] = {}

    clean_name = "" if name is None else str(name).strip()
    if not clean_name:
        errors["name"] = "A module name is required."
    elif len(clean_name) > NAME_MAX_CHARS:
        errors["name"] = f"The name can be at most {NAME_MAX_CHARS} characters (it has {len(clean_name):,})."

    clean_duration: float | None = None
    if not is_empty(duration):
        try:
            clean_duration = float(str(duration).strip())
        except ValueError:
            errors["duration"] = "Duration must be a number of minutes, e.g. 45."
        else:
            if not math.isfinite(clean_duration) or clean_duration <= 0:
                errors["duration"] = "Duration must be a positive number of minutes."
            elif clean_duration > DURATION_MAX_MINUTES:
                errors["duration"] = f"Duration can be at most {DURATION_MAX_MINUTES:,} minutes."

    clean_description = None if description is None else str(description)
    if clean_description is not None and len(clean_description) > DESCRIPTION_MAX_CHARS:
        errors["description"] = (
            f"The description can be at most {DESCRIPTION_MAX_CHARS:,} characters (it has {len(clean_description):,})."
        )

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
    if clean_lock is LockType.UNTIL_DATE and clean_until is not None and today is not None and clean_until < today:
        errors["lock_until"] = "That date is in the past: pick today or a later date."

    if errors:
        raise ModuleUpdateError(errors)
    update = ModuleUpdate(
        name=clean_name,
        duration=clean_duration,
        description=clean_description,
        lock_type=clean_lock,
        lock_until=clean_until if clean_lock is LockType.UNTIL_DATE else None,
    )
    size = encoded_size(update.to_module_data())
    if size > MODULE_DATA_MAX_ENCODED:
        # Measured encoded, not in characters: "日" is 1 character but 9 in the URL, an emoji 12.
        field = "description" if clean_description else "name"
        raise ModuleUpdateError(
            {
                field: f"Too long to send to Zoho: encoded for the request it takes {size:,} of the "
                f"{MODULE_DATA_MAX_ENCODED:,} characters allowed (letters outside A–Z, emoji and punctuation "
                "count several times). Please shorten it."
            }
        )
    return update
