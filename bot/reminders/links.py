""" "Open in LMS" links from the admin's URL templates (`REMINDER_ZOHO_ITEM_URL`, `REMINDER_ISPRING_ITEM_URL`).

Where the LMS gives an address it wins: iSpring's GET /course/{id}/modules lists a `viewUrl` per module.
Zoho's answers carry none, and neither vendor documents a learner-facing URL pattern, so lmsbot ships no
default: without a template Zoho items get no per-module button (the digest offers the Zoho People home page
once) and iSpring items without a `viewUrl` none; `/lms status` tells admins which template is not set.
"""

from __future__ import annotations

from string import Formatter
from urllib.parse import quote

# The placeholders each template may use ({entity_id} is {item_id}'s older name in Zoho templates).
ZOHO_PLACEHOLDERS = ("course_id", "batch_id", "module_id", "item_id", "entity_id")
ISPRING_PLACEHOLDERS = ("course_id", "module_id", "item_id")


def check_template(template: str, allowed: tuple[str, ...]) -> str:
    """The template as given, or ValueError naming what is wrong (an unknown placeholder, not a web address)."""
    value = template.strip()
    if not value.lower().startswith(("https://", "http://")):
        raise ValueError("must be a web address starting with https://")
    try:
        names = [name for _, name, spec, conv in Formatter().parse(value) if name is not None]
    except ValueError as exc:
        raise ValueError(f"is not a valid template ({exc}); write placeholders as {{course_id}}") from None
    for name in names:
        if name not in allowed:
            known = ", ".join(f"{{{p}}}" for p in allowed)
            raise ValueError(f"has an unknown placeholder {{{name}}}; use {known}")
    return value


def expand(template: str, **values: str | None) -> str:
    """The template with each placeholder replaced by its value, URL-encoded (a missing value is empty)."""
    return template.format_map({k: quote(v or "", safe="") for k, v in values.items()})
