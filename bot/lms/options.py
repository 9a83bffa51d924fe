"""How the LMS clients speak where the vendors' pages leave a choice open: settings choose, the clients obey.

Here rather than in bot.config so the clients need nothing from the application's settings.
"""

from __future__ import annotations

from enum import StrEnum


class ModuleDataTransport(StrEnum):
    """Where the Update Modules PATCH puts `moduleData`.

    The Zoho page documents a `moduleData` request parameter (query string) while its code samples send
    a JSON body; which one a given account accepts is not stated, so it is configurable.
    """

    QUERY = "query"
    FORM = "form"
    JSON = "json"


class ISpringAuthScheme(StrEnum):
    """iSpring's token page sends `Bearer <token>`; its endpoint pages send the bare token."""

    BEARER = "bearer"
    RAW = "raw"
