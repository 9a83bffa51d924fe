"""Sent digests stay readable: the sent log keeps each digest's content as JSON (`sent_reminders.payload`), and a
later sweep or a button decodes it to tick items off or re-render it. tests/fixtures/sent_digest_payload_v1.json
was written by `Digest.to_payload` before the payload codec moved to pydantic (every field set, sessions in a
zone with an offset); rows like it are in production databases and must decode to the same digest, and what is
written now must be that same JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.types import Digest, DigestEntry, EntryKind, MissedSession, SessionInfo
from bot.services.types import Provider, TrackedModuleRef

FIXTURE = Path(__file__).parent.parent / "fixtures" / "sent_digest_payload_v1.json"
LONDON = ZoneInfo("Europe/London")


def stored() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(FIXTURE.read_text())
    return payload


def expected() -> Digest:
    """The digest the fixture was written from."""
    m1 = TrackedModuleRef(11, Provider.ZOHO, "2001", None, "3001", "security-1")
    m2 = TrackedModuleRef(12, Provider.ZOHO, "2002", "4002", "3002", None)
    start = datetime(2026, 4, 2, 10, 30, tzinfo=LONDON)
    lab = SessionInfo(
        "77", "Feedback lab", m2, start, start + timedelta(hours=2), "Feedback", "Zoom", "Irene", "Online"
    )
    kickoff = SessionInfo("78", "Kick-off", m2, datetime(2026, 3, 27, 9, 0, tzinfo=LONDON))
    again = SessionInfo(
        "79",
        "Kick-off (again)",
        m2,
        datetime(2026, 4, 9, 9, 0, tzinfo=LONDON),
        None,
        "Kick-off",
        "Room 4",
        None,
        "Classroom",
    )
    test_entity = {"entityId": "9001", "entityType": "onlineTest", "name": "Item 1", "isMandatory": True}
    entries = (
        DigestEntry(
            "zoho:11:9001",
            EntryKind.TASK,
            "Item 1",
            m1,
            "Security basics",
            "onlineTest",
            {**test_entity, "isComplete": False},
            "https://people.zoho.eu/lms/item/9001",
        ),
        DigestEntry(
            "zoho:12:77",
            EntryKind.TASK,
            "Feedback lab",
            m2,
            "Feedback",
            "session",
            {"entityId": "77", "entityType": "session", "name": "Feedback lab", "startDate": "2026-04-02"},
        ),
        DigestEntry(
            "lock:13",
            EntryKind.LOCKED,
            "Coaching",
            TrackedModuleRef(13, Provider.ZOHO, "2002", "4002", "3003", "coaching"),
            "Coaching",
            lock_type=1,
            lock_until=date(2026, 4, 6),
        ),
        DigestEntry(
            "lock:14",
            EntryKind.LOCKED,
            "Advanced",
            TrackedModuleRef(14, Provider.ZOHO, "2001", None, "3004", None),
            None,
            lock_type=2,
            unlock_after="Security basics",
            unlock_todo=("Item 1", "Statement"),
        ),
        DigestEntry("ispring:a", EntryKind.ISPRING, "Anti-Bribery", due=date(2026, 3, 25), overdue=True),
        DigestEntry(
            "ispring:b", EntryKind.ISPRING, "Data Protection", url="https://learn.example/x", due=date(2026, 4, 1)
        ),
    )
    return Digest(
        period="2026-03-30",
        entries=entries,
        learner_name="Ada",
        sessions=(lab,),
        done=frozenset({"zoho:11:9001", "ispring:a"}),
        unlocked=frozenset({13}),
        muted=frozenset({14, 12}),
        snoozed_until=datetime(2026, 4, 1, 8, 0, tzinfo=UTC),
        missed=(MissedSession(kickoff, again), MissedSession(kickoff)),
        lms_zone="Europe/London",
        made_at=datetime(2026, 3, 30, 8, 0, 5, 123456, tzinfo=UTC),
        reminders=(("77", "day-before"),),
        lms_home="https://people.zoho.eu/",
        as_of=datetime(2026, 3, 29, 17, 45, tzinfo=UTC),
        unchecked=("Kick-off",),
    )


def test_a_digest_stored_by_earlier_code_decodes_to_the_same_digest() -> None:
    decoded = Digest.from_payload(stored())
    assert decoded == expected()
    assert decoded is not None
    # Session times keep the offset they were written with (the LMS's zone), not only the instant.
    assert decoded.sessions[0].starts_at.isoformat() == "2026-04-02T10:30:00+01:00"
    assert decoded.sessions[0].starts_at.strftime("%H:%M %Z") == "10:30 UTC+01:00"  # as `datetime.fromisoformat`
    assert decoded.missed[0].next is not None and decoded.missed[0].next.ends_at is None
    assert decoded.entries[0].tracked is not None and decoded.entries[0].tracked.provider is Provider.ZOHO


def test_what_is_stored_now_is_the_same_json() -> None:
    assert expected().to_payload() == stored()
    assert json.loads(json.dumps(expected().to_payload())) == stored()


def test_a_payload_from_before_the_later_fields_decodes_with_their_defaults() -> None:
    """Rows written by the first engine (5171a11) have its eleven keys only: no `missed`, `lms_zone`, `made_at`,
    `reminders`, `lms_home`, `as_of` nor `unchecked`."""
    first = ("v", "kind", "period", "learner_name", "entries", "sessions", "done", "unlocked", "muted")
    old = {key: value for key, value in stored().items() if key in (*first, "snoozed_until", "stopped")}
    full = expected()
    decoded = Digest.from_payload(old)
    assert decoded == Digest(
        full.period, full.entries, "Ada", full.sessions, full.done, full.unlocked, full.muted, full.snoozed_until
    )
    assert decoded is not None and decoded.lms_zone == "UTC" and decoded.made_at is None and decoded.missed == ()


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "none"},
        "junk",
        None,
        {"kind": "digest"},  # no period
        {**stored(), "reminders": [["77", "next-week"]]},  # no such lead
        {**stored(), "sessions": [{**stored()["sessions"][0], "starts_at": None}]},  # a session needs its start
        {**stored(), "entries": [{"key": "x", "kind": "homework", "title": "?"}]},  # no such kind
    ],
)
def test_anything_else_is_not_a_digest(payload: Any) -> None:
    assert Digest.from_payload(payload) is None
