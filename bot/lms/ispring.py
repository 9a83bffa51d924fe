"""iSpring Learn client: learners' module results, every documented filter, every page.

iSpring answers XML by default and JSON when asked with `Accept: application/json`; both are parsed.
Pages continue while the answer carries a non-empty `nextPageToken`.

Size (~390 lines): the client and its two answer formats (XML through defusedxml, JSON) for one endpoint family;
the parsing is shared by every filter and page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote
from xml.etree.ElementTree import Element

import httpx
import pydantic

from bot.lms.content import read_json, read_xml, validated
from bot.lms.errors import InvalidResponseError, ValidationError
from bot.lms.ispring_models import (
    CompletionStatus,
    CourseModule,
    Department,
    ModuleResult,
    ResultsFilter,
    UserProfile,
    UserStatus,
)
from bot.lms.ratelimit import Priority
from bot.lms.transport import Listing, LmsTransport

M = TypeVar("M", bound=pydantic.BaseModel)
MAX_PAGES = 1000  # a million results at the default page size; past that the LMS is not ending its list
RESULTS_PATH = "/learners/modules/results"
USERS_PATH = "/users"
DEPARTMENTS_PATH = "/department"  # "Getting a List of Departments": GET /department (newer docs also page it)
# Profile field names iSpring uses in a user's <fields> list, mapped to our attribute names.
_PROFILE_FIELDS = {"EMAIL": "email", "LOGIN": "login", "FIRST_NAME": "first_name", "LAST_NAME": "last_name"}


COURSE_MODULES_PATH = "/course/{course_id}/modules"


class Endpoint:
    RESULTS = "ispring-results"
    USERS = "ispring-users"
    DEPARTMENTS = "ispring-departments"
    COURSE_MODULES = "ispring-course-modules"


def validate_filter(flt: ResultsFilter) -> None:
    """Refuse values iSpring documents no meaning for, before sending anything."""
    known = {s.value for s in CompletionStatus}
    bad = [s for s in flt.completion_statuses if s not in known]
    if bad:
        raise ValidationError(f"unknown completion status {', '.join(bad)}; use one of: {', '.join(sorted(known))}")
    bad = [s for s in flt.user_statuses if s not in {u.value for u in UserStatus}]
    if bad:
        raise ValidationError(f"unknown user status {', '.join(bad)}; use 1 (active) or 3 (blocked)")
    if flt.page_size is not None and flt.page_size < 1:
        raise ValidationError("page size must be a positive number")
    for name, span in (
        ("access", flt.access_date),
        ("due", flt.due_date),
        ("completion", flt.completion_date),
    ):
        if span and span.start and span.end and span.start > span.end:
            raise ValidationError(f"the {name} date range ends before it starts")


class ISpringClient:
    def __init__(self, transport: LmsTransport, *, response_format: Literal["xml", "json"] = "xml") -> None:
        self.transport = transport
        self.response_format = response_format

    async def module_results(
        self,
        flt: ResultsFilter | None = None,
        *,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> list[ModuleResult]:
        return [r async for r in self.iter_module_results(flt, priority=priority, max_wait=max_wait)]

    async def iter_module_results(
        self,
        flt: ResultsFilter | None = None,
        *,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> AsyncIterator[ModuleResult]:
        flt = flt or ResultsFilter()
        validate_filter(flt)
        async for record in _paged(
            self.transport,
            RESULTS_PATH,
            Endpoint.RESULTS,
            flt.to_params(),
            self._accept,
            parse_results,
            priority,
            max_wait,
        ):
            yield _model(ModuleResult, record, Endpoint.RESULTS)

    async def users(
        self, *, emails: Sequence[str] = (), priority: Priority = Priority.INTERACTIVE
    ) -> list[UserProfile]:
        """Users (GET /users), optionally only those with the given e-mails — how we link people by e-mail."""
        params = [("emails[]", e) for e in emails]
        return [
            _model(UserProfile, record, Endpoint.USERS)
            async for record in _paged(
                self.transport, USERS_PATH, Endpoint.USERS, params, self._accept, parse_users, priority, None
            )
            if record.get("userId")
        ]

    async def departments(self, *, priority: Priority = Priority.INTERACTIVE) -> list[Department]:
        """Every department with its supervisors (GET /department; followed page by page if it pages)."""
        return [
            _model(Department, record, Endpoint.DEPARTMENTS)
            async for record in _paged(
                self.transport,
                DEPARTMENTS_PATH,
                Endpoint.DEPARTMENTS,
                [],
                self._accept,
                parse_departments,
                priority,
                None,
            )
            if record.get("departmentId")
        ]

    async def course_modules(
        self, course_id: str, *, priority: Priority = Priority.INTERACTIVE, max_wait: float | None = None
    ) -> list[CourseModule]:
        """The modules of one course (GET /course/{id}/modules), each with the `viewUrl` iSpring gives it."""
        response = await self.transport.request(
            "GET",
            f"/course/{quote(course_id, safe='')}/modules",
            endpoint=Endpoint.COURSE_MODULES,
            headers={"Accept": self._accept},
            priority=priority,
            max_wait=max_wait,
        )
        return [
            _model(CourseModule, record, Endpoint.COURSE_MODULES)
            for record in parse_course_modules(response)
            if record.get("moduleId")
        ]

    @property
    def _accept(self) -> str:
        return "application/json" if self.response_format == "json" else "application/xml"


async def _paged(
    transport: LmsTransport,
    path: str,
    endpoint: str,
    params: list[tuple[str, str]],
    accept: str,
    parse: Callable[[httpx.Response], tuple[list[dict[str, Any]], str | None]],
    priority: Priority,
    max_wait: float | None,
) -> AsyncIterator[dict[str, Any]]:
    """Records of every page, following nextPageToken until it is absent or empty.

    A token seen before, or more than MAX_PAGES pages, is an error: the LMS would otherwise page forever.
    """
    token: str | None = None
    seen: set[str] = set()
    listing = Listing(transport, endpoint, priority)  # someone waiting: every page within the call deadline
    for _ in range(MAX_PAGES):
        page_params = params + ([("pageToken", token)] if token else [])
        response = await listing.page(
            transport.request,
            "GET",
            path,
            endpoint=endpoint,
            params=page_params,
            headers={"Accept": accept},
            priority=priority,
            max_wait=max_wait,
        )
        records, token = parse(response)
        for record in records:
            yield record
        if not token:
            return
        if token in seen:  # an LMS handing back the same token would otherwise loop forever
            raise InvalidResponseError("it repeated a page token", endpoint=endpoint, provider="iSpring")
        seen.add(token)
    raise InvalidResponseError(
        f"it kept sending new page tokens after more than {MAX_PAGES} pages; stopped there",
        endpoint=endpoint,
        provider="iSpring",
    )


def _model(cls: type[M], record: dict[str, Any], endpoint: str) -> M:
    return validated(cls, record, provider="iSpring", endpoint=endpoint)


def _root(response: httpx.Response, endpoint: str) -> Element:
    """The XML root of an answer, which iSpring documents as <response>; anything else is refused."""
    root = read_xml(
        response.content, provider="iSpring", endpoint=endpoint, content_type=response.headers.get("content-type", "")
    )
    if root.tag != "response":
        words = " ".join(t.strip() for t in root.itertext() if t.strip())[:200]
        detail = f": {words}" if words else ""
        raise InvalidResponseError(
            f"its XML is a <{root.tag[:40]}>, not a <response>{detail}", endpoint=endpoint, provider="iSpring"
        )
    return root


def _json(response: httpx.Response, endpoint: str) -> Any:
    return read_json(
        response.content, provider="iSpring", endpoint=endpoint, content_type=response.headers.get("content-type", "")
    )


def _is_xml(response: httpx.Response) -> bool:
    """Whether a users/departments answer is XML: it starts with "<", or it is not JSON and says it is XML."""
    body = response.content.strip()
    return body.startswith(b"<") or (
        not body.startswith((b"{", b"[")) and "xml" in response.headers.get("content-type", "")
    )


def _json_payload(response: httpx.Response, endpoint: str) -> Any:
    """A JSON answer, out of its {"response": {...}} envelope when it has one (an empty answer reads as {})."""
    payload = _json(response, endpoint) or {}
    if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
        payload = payload["response"]
    return payload


def parse_users(response: httpx.Response) -> tuple[list[dict[str, Any]], str | None]:
    """User profiles and the next page token, flattening each profile's `fields` list into attributes."""
    profiles: list[dict[str, Any]] = []
    token: str | None
    if _is_xml(response):
        root = _root(response, Endpoint.USERS)
        for node in root.iter("userProfile"):
            profile: dict[str, Any] = {}
            for child in node:
                if child.tag == "fields":
                    for field in child:
                        profile[str(field.findtext("name") or "")] = (field.findtext("value") or "").strip()
                else:
                    profile[child.tag] = (child.text or "").strip()
            profiles.append(profile)
        token = (root.findtext("nextPageToken") or "").strip() or None
    else:
        payload = _json_payload(response, Endpoint.USERS)
        raw: Any = payload.get("userProfiles", []) if isinstance(payload, dict) else payload
        if isinstance(raw, dict):
            raw = raw.get("userProfile", [])
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, dict):
                continue
            profile = {k: v for k, v in item.items() if k != "fields"}
            for field in item.get("fields") or []:
                if isinstance(field, dict):
                    profile[str(field.get("name", ""))] = field.get("value")
            profiles.append(profile)
        raw_token = payload.get("nextPageToken") if isinstance(payload, dict) else None
        token = str(raw_token) if raw_token else None
    for profile in profiles:
        for source, target in _PROFILE_FIELDS.items():
            for key in (source, source.lower(), target):
                if profile.get(key) not in (None, "") and target not in profile:
                    profile[target] = profile[key]
    return profiles, token


def parse_departments(response: httpx.Response) -> tuple[list[dict[str, Any]], str | None]:
    """Departments and the next page token. The docs show `<response><department>…` (and, paged,
    `<response><departments><department>…`); the subordination arrays' inner shape is not shown, so every
    `supervisorId` and `subordinationType` found inside a department is taken, however deep."""
    records: list[dict[str, Any]] = []
    token: str | None
    if _is_xml(response):
        root = _root(response, Endpoint.DEPARTMENTS)
        for node in root.iter("department"):
            leaves = [child for child in node if len(child) == 0 and child.tag != "supervisorId"]
            record: dict[str, Any] = {child.tag: (child.text or "").strip() for child in leaves}
            record["supervisorIds"] = tuple(
                (s.text or "").strip() for s in node.iter("supervisorId") if (s.text or "").strip()
            )
            kinds = [(k.text or "").strip() for k in node.iter("subordinationType") if (k.text or "").strip()]
            if kinds:
                record["subordinationType"] = kinds[0]
            records.append(record)
        token = (root.findtext("nextPageToken") or "").strip() or None
    else:
        payload = _json_payload(response, Endpoint.DEPARTMENTS)
        raw: Any = payload.get("departments", payload.get("department", [])) if isinstance(payload, dict) else payload
        if isinstance(raw, dict):
            raw = raw.get("department", [raw])
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, dict):
                continue
            found: dict[str, list[str]] = {"supervisorId": [], "subordinationType": []}
            _collect(item, found)
            record = {k: v for k, v in item.items() if not isinstance(v, (dict, list))}
            record["supervisorIds"] = tuple(found["supervisorId"])
            if found["subordinationType"]:
                record["subordinationType"] = found["subordinationType"][0]
            records.append(record)
        raw_token = payload.get("nextPageToken") if isinstance(payload, dict) else None
        token = str(raw_token) if raw_token else None
    return records, token


def _collect(value: Any, found: dict[str, list[str]]) -> None:
    """Every value under the wanted keys, at any depth of a JSON department."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in found and isinstance(inner, (str, int)) and str(inner).strip():
                found[key].append(str(inner).strip())
            else:
                _collect(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _collect(inner, found)


def parse_course_modules(response: httpx.Response) -> list[dict[str, Any]]:
    """Module records from an XML (`<response><modules><module>…`) or JSON answer (documented fields only; the
    JSON may mirror the XML, {"modules": {"module": [...]}}, or be {"modules": [...]} or a bare list)."""
    body = response.content.strip()
    content_type = response.headers.get("content-type", "")
    looks_like_json = body.startswith((b"{", b"["))
    if body.startswith(b"<") or (not looks_like_json and ("xml" in content_type or "html" in content_type)):
        root = _root(response, Endpoint.COURSE_MODULES)
        return [{child.tag: (child.text or "").strip() for child in node} for node in root.iter("module")]
    payload = _json(response, Endpoint.COURSE_MODULES)
    if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
        payload = payload["response"]
    raw: Any = payload.get("modules", []) if isinstance(payload, dict) else payload
    if isinstance(raw, dict):
        raw = raw.get("module", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise InvalidResponseError("its modules are not a list", endpoint=Endpoint.COURSE_MODULES, provider="iSpring")
    return [r for r in raw if isinstance(r, dict)]


def parse_results(response: httpx.Response) -> tuple[list[dict[str, Any]], str | None]:
    """Records and the next page token from an XML or JSON results answer."""
    body = response.content.strip()
    content_type = response.headers.get("content-type", "")
    looks_like_json = body.startswith((b"{", b"["))
    if body.startswith(b"<") or (not looks_like_json and ("xml" in content_type or "html" in content_type)):
        return _parse_xml(_root(response, Endpoint.RESULTS))
    payload = _json(response, Endpoint.RESULTS)
    return _parse_json({} if payload is None else payload)


def _parse_xml(root: Element) -> tuple[list[dict[str, Any]], str | None]:
    container = root.find("results")
    items = list(container) if container is not None else root.findall(".//result")
    records = [{child.tag: (child.text or "").strip() for child in item} for item in items]
    token_node = root.find("nextPageToken")
    token = (token_node.text or "").strip() if token_node is not None else ""
    return records, token or None


def _parse_json(payload: Any) -> tuple[list[dict[str, Any]], str | None]:
    # The JSON form of this endpoint is not documented: accept the XML structure mirrored in JSON
    # ({"results": [...]}, or {"results": {"result": [...]}}), an envelope under "response", or a bare list.
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, dict)], None
    if not isinstance(payload, dict):
        raise InvalidResponseError("its JSON is not an object", endpoint=Endpoint.RESULTS, provider="iSpring")
    if "response" in payload and isinstance(payload["response"], dict):
        payload = payload["response"]
    results: Any = payload.get("results", payload.get("result", []))
    if isinstance(results, dict):
        results = results.get("result", [])
    if isinstance(results, dict):
        results = [results]
    token = payload.get("nextPageToken")
    return [r for r in results if isinstance(r, dict)], (str(token) if token else None)
