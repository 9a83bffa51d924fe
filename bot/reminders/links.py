""" "Open in LMS" links from the admin's URL templates (`REMINDER_ZOHO_ITEM_URL`, `REMINDER_ISPRING_ITEM_URL`).

Where the LMS gives an address it wins: iSpring's GET /course/{id}/modules lists a `viewUrl` per module.
Zoho's answers carry none, and neither vendor documents a learner-facing URL pattern, so lmsbot ships no
default: without a template Zoho items get no per-module button (the digest offers the Zoho People home page
once) and iSpring items without a `viewUrl` none; `/lms status` tells admins which template is not set. The
templates are checked with the other REMINDER_* settings (bot.config.check_template).
"""

from __future__ import annotations

from urllib.parse import quote


def expand(template: str, **values: str | None) -> str:
    """The template with each placeholder replaced by its value, URL-encoded (a missing value is empty)."""
    return template.format_map({k: quote(v or "", safe="") for k, v in values.items()})
