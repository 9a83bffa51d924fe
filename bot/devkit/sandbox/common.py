"""Request/response plumbing shared by the sandbox's Zoho and iSpring handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from datetime import time as dtime
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse

# The texts of the "Error Codes and Descriptions" table printed on every Zoho LMS doc page.
ZOHO_MESSAGES = {
    400: "Invalid parameter value/input parameter missing",
    401: "Invalid OAuth token",  # not in the docs' table: the sandbox's own wording
    403: "Sorry! You are not authorized to do this operation",
    404: "Not found",
    422: "Maximum limit exceeded",
    429: "Maximum limit exceeded",
    500: "Sorry! Server error occured",  # sic, as documented
}
# Zoho's threshold lock as seen in the wild (Zoho People community thread, attendance API): body `code` 7209.
ZOHO_LOCK_MESSAGE = "API access blocked since threshold limit exceeded. Please try after some time"
# iSpring's response-code tables ("Text" column); its error body format is undocumented.
ISPRING_MESSAGES = {400: "Bad Request", 401: "Unauthorized", 403: "Permission Denied", 404: "Not Found"}

PAGE = 25  # "Upto 25 records can be fetched in single API call"


class ApiError(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.message = message


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes
    content_type: str
    accept: str
    module_data: dict[str, Any] | None = None
    transport: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, list[str]]:
        """Form fields of an urlencoded body (python-multipart is not a dependency, so parse by hand)."""
        if "application/x-www-form-urlencoded" not in self.content_type:
            return {}
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """A parameter from the query string or, failing that, the form body (Zoho accounts takes both)."""
        value = self.q(name)
        if value is None:
            values = self.form().get(name)
            value = values[0] if values else None
        return value


def zoho_error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    text = message or ZOHO_MESSAGES.get(status, "Error")
    return JSONResponse({"code": status, "message": text}, status_code=status, headers=headers)


def ispring_error(status: int, message: str | None = None) -> JSONResponse:
    text = message or ISPRING_MESSAGES.get(status, "Error")
    return JSONResponse({"code": status, "message": text}, status_code=status)


def parse_id(value: str) -> int:
    """Zoho ids are long digit strings; anything else is a 400."""
    if not value.isdigit() or len(value) > 20:
        raise ApiError(400)
    return int(value)


def start_index(req: ApiRequest) -> int:
    raw = req.q("startIndex")
    if raw is None or raw == "":
        return 0
    if not raw.isdigit():
        raise ApiError(400)
    return int(raw)


def num(value: float) -> int | float:
    """Marks and durations print as 5, not 5.0, like Zoho's samples."""
    return int(value) if float(value).is_integer() else value


def dmy(day: date | None) -> str:
    return day.strftime("%d-%m-%Y") if day else ""


def display_date(day: date) -> str:
    return day.strftime("%d-%b-%Y")  # "22-Dec-2021", the display style noted in the docs


def twelve_hour(t: dtime) -> str:
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def loads_object(raw: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400) from exc
    if not isinstance(value, dict):
        raise ApiError(400)
    return value
