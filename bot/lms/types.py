"""Field types shared by the Zoho and iSpring models: string IDs and the LMS's loose scalars."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from bot.lms.dates import (
    DateOrder,
    is_empty,
    parse_date,
    parse_datetime,
    parse_duration_minutes,
    parse_time,
)

_MAX_EXACT_FLOAT = 2**53


def _to_id(value: Any) -> str:
    # Zoho sends some IDs as JSON numbers above 2**53; json.loads keeps them as exact ints, so str() is exact.
    # A float would already have lost digits, so refuse it rather than invent an ID.
    if isinstance(value, bool):
        raise ValueError("an ID cannot be a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _MAX_EXACT_FLOAT:
            return str(int(value))
        raise ValueError("an ID arrived as an inexact floating-point number")
    text = str(value).strip()
    if not text:
        raise ValueError("an ID cannot be empty")
    return text


def _to_optional_id(value: Any) -> str | None:
    return None if is_empty(value) else _to_id(value)


def _to_optional_str(value: Any) -> str | None:
    return None if is_empty(value) else str(value)


def _to_optional_float(value: Any) -> float | None:
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return float(value)
    return float(str(value).strip().replace(",", "."))


def _to_optional_int(value: Any) -> int | None:
    number = _to_optional_float(value)
    return None if number is None else int(number)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if is_empty(value):
        return False
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _date_order(info: ValidationInfo) -> DateOrder:
    context = info.context or {}
    order = context.get("date_order", DateOrder.DMY) if isinstance(context, dict) else DateOrder.DMY
    return DateOrder(order)


def _to_date(value: Any, info: ValidationInfo) -> date | None:
    return parse_date(value, _date_order(info))


LmsId = Annotated[str, BeforeValidator(_to_id)]
OptionalId = Annotated[str | None, BeforeValidator(_to_optional_id)]
OptionalStr = Annotated[str | None, BeforeValidator(_to_optional_str)]
OptionalFloat = Annotated[float | None, BeforeValidator(_to_optional_float)]
OptionalInt = Annotated[int | None, BeforeValidator(_to_optional_int)]
LooseBool = Annotated[bool, BeforeValidator(_to_bool)]
LmsDate = Annotated[date | None, BeforeValidator(_to_date)]
LmsDateTime = Annotated[datetime | None, BeforeValidator(parse_datetime)]
LmsTime = Annotated[time | None, BeforeValidator(parse_time)]
DurationMinutes = Annotated[float | None, BeforeValidator(parse_duration_minutes)]


class LmsModel(BaseModel):
    """Base for parsed LMS records: unknown fields are kept (never dropped), names are Pythonic."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
