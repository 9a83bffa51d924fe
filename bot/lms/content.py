"""Reading LMS bodies without trusting them: JSON and XML that a hostile server cannot turn into a crash.

Everything an LMS sends is parsed here, and every way it can be unreadable becomes one InvalidResponseError
with a plain reason: a web page where data was expected, XML with entities (defusedxml refuses them), JSON
that is not JSON, integers too long to convert, numbers that overflow to infinity, nesting deeper than
MAX_DEPTH levels.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

import pydantic
from defusedxml import DefusedXmlException, ElementTree

from bot.lms.errors import InvalidResponseError

M = TypeVar("M", bound=pydantic.BaseModel)
MAX_DEPTH = 200  # nesting levels; real LMS answers use fewer than ten


def read_json(body: bytes, *, provider: str, endpoint: str | None = None, content_type: str = "") -> Any:
    """The parsed JSON of an LMS answer (None for an empty body)."""
    text = body.strip()
    if not text:
        return None
    if is_web_page(text, content_type):
        raise InvalidResponseError(_web_page(text), provider=provider, endpoint=endpoint)
    try:
        payload = json.loads(text.decode("utf-8-sig"), parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidResponseError(_too_deep(), provider=provider, endpoint=endpoint) from None
    except UnicodeDecodeError:
        raise InvalidResponseError("it is not UTF-8 text", provider=provider, endpoint=endpoint) from None
    except ValueError as exc:  # JSONDecodeError, an integer over Python's 4300-digit limit, a non-finite number
        raise InvalidResponseError(_json_reason(exc), provider=provider, endpoint=endpoint) from None
    # Nesting needs an opening bracket per level: a body with fewer than MAX_DEPTH of them (most) needs no walk.
    if text.count(b"{") + text.count(b"[") > MAX_DEPTH and _depth_exceeds(payload, MAX_DEPTH):
        raise InvalidResponseError(_too_deep(), provider=provider, endpoint=endpoint)
    return payload


def read_xml(body: bytes, *, provider: str, endpoint: str | None = None, content_type: str = "") -> Element:
    """The root element of an XML answer; entities, external references and web pages are refused."""
    text = body.strip()
    if is_web_page(text, content_type):
        raise InvalidResponseError(_web_page(text), provider=provider, endpoint=endpoint)
    try:
        root: Element = ElementTree.fromstring(text)
    except DefusedXmlException:
        raise InvalidResponseError(
            "its XML declares entities, which lmsbot refuses", provider=provider, endpoint=endpoint
        ) from None
    except ElementTree.ParseError as exc:
        raise InvalidResponseError(f"its XML is malformed ({exc})", provider=provider, endpoint=endpoint) from None
    except RecursionError:
        raise InvalidResponseError(_too_deep(), provider=provider, endpoint=endpoint) from None
    return root


def validated(
    cls: type[M], raw: Any, *, provider: str, endpoint: str | None, context: dict[str, Any] | None = None
) -> M:
    """A typed record from parsed data; fields of the wrong shape are an answer we cannot read, not a crash."""
    try:
        return cls.model_validate(raw, context=context)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        why = errors[0]["msg"] if errors else "invalid"
        raise InvalidResponseError(
            f"{where or 'a record'} is not what {provider} documents ({why})", provider=provider, endpoint=endpoint
        ) from None


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("a number too large to represent")
    return number


def _no_constant(value: str) -> Any:
    raise ValueError(f"{value} is not a JSON number")


def _json_reason(exc: ValueError) -> str:
    text = str(exc)
    if "digits" in text:
        return "it holds an integer with too many digits"
    if "too large" in text:
        return "it holds a number too large to represent"
    if "not a JSON number" in text:
        return "it holds NaN or Infinity, which JSON does not allow"
    return "it is not valid JSON"


def _too_deep() -> str:
    return f"it is nested more than {MAX_DEPTH} levels deep"


def is_web_page(text: bytes, content_type: str) -> bool:
    """Markup that is HTML: by its first bytes, or by its type (a JSON body mislabelled text/html still reads)."""
    head = text[:200].lstrip().lower()
    return head.startswith(b"<") and ("html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")))


def _web_page(text: bytes) -> str:
    return "it is a web page (HTML), not data; the LMS address may be wrong or the LMS may be down"


def _depth_exceeds(payload: Any, limit: int) -> bool:
    """Iteratively (no recursion to exhaust): is anything nested deeper than `limit`?"""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
