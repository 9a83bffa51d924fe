"""Row versions (migration 0009): a number that changes with every write of a row, so a reader that keeps what it
derived from the row can tell, from the version alone, whether to read the row again.

A new row starts at a random number and each update adds one: a row deleted and written again (a purge, a
re-claim) never repeats the version a reader saw before, even within the same clock tick.
"""

from __future__ import annotations

import secrets

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute


def fresh_version() -> int:
    """The version of a new row: random, within a signed 64-bit column with room to count up."""
    return secrets.randbits(62)


def bumped(column: InstrumentedAttribute[int]) -> ColumnElement[int]:
    """`column + 1`, for the SET clause of every UPDATE of a versioned row."""
    return column + 1
