"""iSpring Learn GET /learners/modules/results (served under /ispring), as in ispring-module-results.txt.

XML by default, exactly like the sample: optional elements (dueDate, expirationDate, completionDate, progress)
are left out when absent and `<nextPageToken>` follows `</results>` only when there is a next page.

Sandbox assumptions (undocumented):
- `Accept: application/json` -> {"results": [{<same names as the XML elements>}], "nextPageToken": "..."}
  with ids/dates as strings, timeSpent/progress as numbers, isOverdue as the number 0|1, and
  nextPageToken present only when there is a next page.
- A page token is base64 of the id of the next page's first result (like the docs' sample token, which
  decodes to a UUID); an undecodable or unknown token is a 400.
- viewsCount (listed in the field table but absent from the sample) is not emitted.
- Array filters accept both `name[]=` (documented) and plain `name=`; completion statuses also come as
  `completionStatuses` or the sample's `completionStatus`. Unknown statuses or malformed dates are a 400.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import JSONResponse, Response

from bot.devkit.sandbox.common import ApiError, ApiRequest
from bot.devkit.sandbox.state import ISPRING_STATUSES, ISpringDepartment, ISpringResult, ISpringUser, SandboxState

DEFAULT_PAGE_SIZE = 1000


def _multi(req: ApiRequest, *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        values += req.query.get(f"{name}[]", []) + req.query.get(name, [])
    return [v for v in values if v != ""]


def _when(raw: str | None) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))  # a '+' may arrive decoded as a space
    except ValueError as exc:
        raise ApiError(400) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _range(req: ApiRequest, name: str) -> tuple[datetime | None, datetime | None] | None:
    start, end = _when(req.q(f"{name}[startDate]")), _when(req.q(f"{name}[endDate]"))
    return None if start is None and end is None else (start, end)


def _in(value: datetime | None, bounds: tuple[datetime | None, datetime | None] | None) -> bool:
    if bounds is None:
        return True
    if value is None:
        return False
    start, end = bounds
    return (start is None or value >= start) and (end is None or value <= end)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()  # "2021-07-28T21:00:00+00:00", as in the sample


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


def _fields(r: ISpringResult, now: datetime) -> list[tuple[str, Any]]:
    """Element order follows the sample; optional ones only when present."""
    out: list[tuple[str, Any]] = [
        ("userId", r.user_id),
        ("courseId", r.course_id),
        ("moduleTitle", r.module_title),
        ("moduleId", r.module_id),
        ("courseItemId", r.course_item_id),
        ("enrollmentId", r.enrollment_id),
        ("accessDate", _stamp(r.access_date)),
    ]
    for name, value in (("dueDate", r.due_date), ("expirationDate", r.expiration_date)):
        if value is not None:
            out.append((name, _stamp(value)))
    if r.completion_date is not None:
        out.append(("completionDate", _stamp(r.completion_date)))
    out += [("timeSpent", r.time_spent), ("completionStatus", r.completion_status)]
    if r.progress is not None:
        out.append(("progress", _number(r.progress)))
    out.append(("isOverdue", 1 if r.is_overdue(now) else 0))
    return out


def _select(req: ApiRequest, state: SandboxState) -> list[ISpringResult]:
    users, courses = set(_multi(req, "userIds")), set(_multi(req, "courseIds"))
    modules, items = set(_multi(req, "moduleIds")), set(_multi(req, "courseItemIds"))
    enrollments, departments = set(_multi(req, "enrollmentIds")), set(_multi(req, "departmentIds"))
    statuses = set(_multi(req, "completionStatuses", "completionStatus"))
    if statuses - ISPRING_STATUSES:
        raise ApiError(400)
    raw_user_statuses = _multi(req, "userStatuses") or ["1"]  # "By default ... active users"
    if not all(s.isdigit() for s in raw_user_statuses):
        raise ApiError(400)
    user_statuses = {int(s) for s in raw_user_statuses}
    access, due, completion = _range(req, "accessDate"), _range(req, "dueDate"), _range(req, "completionDate")
    selected = []
    for r in state.ispring_results:
        user = state.ispring_users[r.user_id]
        if (
            (not users or r.user_id in users)
            and (not courses or r.course_id in courses)
            and (not modules or r.module_id in modules)
            and (not items or r.course_item_id in items)
            and (not enrollments or r.enrollment_id in enrollments)
            and (not departments or user.department_id in departments)
            and (not statuses or r.completion_status in statuses)
            and user.status in user_statuses
            and _in(r.access_date, access)
            and _in(r.due_date, due)
            and _in(r.completion_date, completion)
        ):
            selected.append(r)
    return selected


def _page_bounds(req: ApiRequest, ids: list[str]) -> tuple[int, int]:
    """(start, size) from pageSize and pageToken; a page token is base64 of the next page's first id."""
    raw_size = req.q("pageSize")
    if raw_size in (None, ""):
        size = DEFAULT_PAGE_SIZE
    elif raw_size.isdigit() and int(raw_size) > 0:
        size = int(raw_size)
    else:
        raise ApiError(400)
    start = 0
    token = req.q("pageToken")
    if token:
        try:
            result_id = base64.b64decode(token, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(400) from exc
        start = ids.index(result_id) if result_id in ids else -1
        if start < 0:
            raise ApiError(400)
    return start, size


def module_results(req: ApiRequest, state: SandboxState) -> Response:
    selected = _select(req, state)
    start, size = _page_bounds(req, [r.result_id for r in selected])
    page = selected[start : start + size]
    following = selected[start + size] if start + size < len(selected) else None
    next_token = base64.b64encode(following.result_id.encode()).decode() if following else None
    now = state.now_dt()
    rows = [_fields(r, now) for r in page]
    if "application/json" in req.accept:
        body: dict[str, Any] = {"results": [dict(row) for row in rows]}
        if next_token:
            body["nextPageToken"] = next_token
        return JSONResponse(body)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<response>", "<results>"]
    for row in rows:
        lines.append("<result>")
        lines += [f"<{name}>{escape(str(value))}</{name}>" for name, value in row]
        lines.append("</result>")
    lines.append("</results>")
    if next_token:
        lines.append(f"<nextPageToken>{next_token}</nextPageToken>")
    lines.append("</response>")
    return Response("\n".join(lines) + "\n", media_type="application/xml; charset=utf-8")


def users(req: ApiRequest, state: SandboxState) -> Response:
    """GET /users: documented params departments[], groups[], logins, emails, pageSize, pageToken.

    Sandbox assumption (the docs show only the skeleton `<userProfiles><userProfile>…`): each profile has
    userId, departmentId, status and `<fields><field><name>EMAIL</name><value>…</value></field>…</fields>`.
    Paging uses the same base64 token form as the results endpoint.
    """
    emails = {e.lower() for e in _multi(req, "emails")}
    departments = set(_multi(req, "departments"))
    selected = [
        u
        for u in state.ispring_users.values()
        if (not emails or u.email.lower() in emails) and (not departments or u.department_id in departments)
    ]
    start, size = _page_bounds(req, [u.user_id for u in selected])
    page = selected[start : start + size]
    following = selected[start + size] if start + size < len(selected) else None
    next_token = base64.b64encode(following.user_id.encode()).decode() if following else None

    def profile(u: ISpringUser) -> dict[str, Any]:
        first, _, last = u.name.partition(" ")
        fields = [
            {"name": "FIRST_NAME", "value": first},
            {"name": "LAST_NAME", "value": last},
            {"name": "EMAIL", "value": u.email},
            {"name": "LOGIN", "value": u.email},
        ]
        return {"userId": u.user_id, "departmentId": u.department_id, "status": u.status, "fields": fields}

    profiles = [profile(u) for u in page]
    if "application/json" in req.accept:
        body: dict[str, Any] = {"userProfiles": profiles}
        if next_token:
            body["nextPageToken"] = next_token
        return JSONResponse(body)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<response>", "<userProfiles>"]
    for p in profiles:
        lines.append("<userProfile>")
        lines += [f"<{k}>{escape(str(p[k]))}</{k}>" for k in ("userId", "departmentId", "status")]
        lines.append("<fields>")
        lines += [
            f"<field><name>{f['name']}</name><value>{escape(str(f['value']))}</value></field>" for f in p["fields"]
        ]
        lines += ["</fields>", "</userProfile>"]
    lines.append("</userProfiles>")
    if next_token:
        lines.append(f"<nextPageToken>{next_token}</nextPageToken>")
    lines.append("</response>")
    return Response("\n".join(lines) + "\n", media_type="application/xml; charset=utf-8")


def departments(req: ApiRequest, state: SandboxState) -> Response:
    """GET /department ("Getting a List of Departments"): departmentId, name, parentDepartmentId, code and the
    supervisor subordination (subordinationType manual|inherit|no_supervisor, supervisorId when manual).

    Sandbox assumptions (the docs list `subordination` as "an array" without showing its elements):
    `<subordination><subordinationType>…</subordinationType><supervisorId>…</supervisorId></subordination>`;
    JSON mirrors it as {"departments": [{…, "subordination": {…}}]}. Not paged (the docs' sample is not).
    """

    def record(d: ISpringDepartment) -> dict[str, Any]:
        sub: dict[str, Any] = {"subordinationType": d.subordination_type}
        if d.subordination_type == "manual" and d.supervisor_id:
            sub["supervisorId"] = d.supervisor_id
        out: dict[str, Any] = {"departmentId": d.department_id, "name": d.name}
        if d.parent_id:
            out["parentDepartmentId"] = d.parent_id
        out.update({"code": d.code, "subordination": sub})
        return out

    rows = [record(d) for d in state.ispring_departments.values()]
    if "application/json" in req.accept:
        return JSONResponse({"departments": rows})
    lines = ['<?xml version="1.0"?>', "<response>"]
    for row in rows:
        lines.append("<department>")
        for key, value in row.items():
            if isinstance(value, dict):
                inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in value.items())
                lines.append(f"<{key}>{inner}</{key}>")
            else:
                lines.append(f"<{key}>{escape(str(value))}</{key}>")
        lines.append("</department>")
    lines.append("</response>")
    return Response("\n".join(lines) + "\n", media_type="application/xml; charset=utf-8")


def course_modules(req: ApiRequest, state: SandboxState) -> Response:
    """GET /course/{id}/modules: the documented fields moduleId, itemId, courseId, title, viewUrl, type.

    Sandbox assumption: a course's modules are those its learners' results name; `viewUrl` points at a
    made-up player page under the sandbox (iSpring's real addresses are the account's own)."""
    course_id = req.params["course"]
    seen: dict[str, ISpringResult] = {}
    for r in state.ispring_results:
        if r.course_id == course_id:
            seen.setdefault(r.module_id, r)
    if not seen:
        raise ApiError(404, "Unknown content item")
    modules = [
        {
            "moduleId": r.module_id,
            "itemId": r.course_item_id,
            "courseId": r.course_id,
            "title": r.module_title,
            "viewUrl": f"https://learn.sandbox.invalid/app/course/{r.course_id}/module/{r.module_id}",
            "type": "material",
        }
        for r in seen.values()
    ]
    if "application/json" in req.accept:
        return JSONResponse({"modules": modules})
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<response>", "<modules>"]
    for m in modules:
        lines.append("<module>")
        lines += [f"<{k}>{escape(str(v))}</{k}>" for k, v in m.items()]
        lines.append("</module>")
    lines += ["</modules>", "</response>"]
    return Response("\n".join(lines) + "\n", media_type="application/xml; charset=utf-8")
