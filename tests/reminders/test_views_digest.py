"""The reminder messages as Slack would validate them, big and small, and the digest's stored form."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot.reminders.types import (
    Digest,
    DigestEntry,
    EntryKind,
    LearnerBacklog,
    ManagerDigest,
    ModuleBacklog,
    OverdueResult,
    SessionInfo,
    SessionReminder,
    UnlockedNotice,
)
from bot.services.types import Provider, TrackedModuleRef
from handlers.views.digest import (
    digest_message,
    manager_digest_message,
    session_reminder_message,
    unlocked_message,
)
from tests.test_views import check_message, elements, everything

START = datetime(2026, 4, 2, 11, 0, tzinfo=UTC)


def ref(n: int) -> TrackedModuleRef:
    return TrackedModuleRef(
        n, Provider.ZOHO, "100002000000039001", "100002000000041383", f"10000400000004{n:04d}", f"m{n}"
    )


def task(n: int, module: int, kind: str = "assignment") -> DigestEntry:
    entity = {"entityId": str(9000 + n), "entityName": f"Item {n}", "type": kind, "isMandatory": True}
    return DigestEntry(
        f"zoho:{module}:{9000 + n}", EntryKind.TASK, f"Item {n}", ref(module), f"Module {module}", kind, entity
    )


def digest(**changes: object) -> Digest:
    entries = (
        task(1, 1, "onlineTest"),
        task(2, 1),
        DigestEntry(
            "lock:2", EntryKind.LOCKED, "Coaching", ref(2), "Coaching", lock_type=1, lock_until=date(2026, 4, 6)
        ),
        DigestEntry(
            "lock:3",
            EntryKind.LOCKED,
            "Feedback",
            ref(3),
            "Feedback",
            lock_type=2,
            unlock_after="Kick-off",
            unlock_todo=("Test 1", "Statement"),
        ),
        DigestEntry("ispring:a", EntryKind.ISPRING, "Anti-Bribery", due=date(2026, 3, 25), overdue=True),
        DigestEntry("ispring:b", EntryKind.ISPRING, "Data Protection", due=date(2026, 4, 1), url="https://learn/x"),
    )
    session = SessionInfo(
        "77", "Feedback lab", ref(3), START, START + timedelta(hours=2), "Feedback", "Zoom", "Irene", "Online"
    )
    base = Digest("2026-03-30", entries, "Ada", (session,))
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_digest_shows_every_section_and_every_button() -> None:
    message = check_message(digest_message(digest()))
    text = everything(message)
    assert message["text"] == "Reminder: 4 LMS items waiting for you"
    assert "*Coaching* — locked until 6 Apr 2026" in text
    assert "*Feedback* — unlocks when you finish *Kick-off*: Test 1, Statement" in text
    assert "*Anti-Bribery* — iSpring · overdue (was due 25 Mar 2026)" in text and "due 1 Apr 2026" in text
    assert "*Feedback lab*" in text and "Zoom · with Irene · Online" in text
    actions = {b["action_id"] for b in elements(message, "button")}
    assert {
        "reminder_snooze_1d",
        "reminder_snooze_1w",
        "reminder_stop",
        "reminder_mute",
        "reminder_open_lms",
    } <= actions


def test_done_unlocked_muted_snoozed_and_stopped_variants() -> None:
    later = digest().with_done(frozenset({"zoho:1:9001", "ispring:a"}), frozenset({2}))
    text = everything(check_message(digest_message(later)))
    assert "~Item 1~" in text and "~Anti-Bribery~" in text and "2 done already" in text
    assert ":unlock: *Coaching* — now unlocked" in text
    muted = everything(check_message(digest_message(digest(muted=frozenset({1})))))
    assert "Item 2" not in muted and "unmute m1" in muted
    snoozed = check_message(digest_message(digest(snoozed_until=START)))
    assert "Snoozed until" in everything(snoozed)
    assert not {"reminder_snooze_1d", "reminder_stop"} & {b["action_id"] for b in elements(snoozed, "button")}
    stopped = check_message(digest_message(digest(stopped=True)))
    assert "Reminders stopped" in everything(stopped) and elements(stopped, "actions") == []


def test_payload_round_trip() -> None:
    original = digest(done=frozenset({"zoho:1:9002"}), muted=frozenset({3}), snoozed_until=START)
    assert Digest.from_payload(original.to_payload()) == original
    assert Digest.from_payload({"kind": "none"}) is None and Digest.from_payload("junk") is None


def test_a_huge_digest_stays_within_slack_limits() -> None:
    entries = tuple(task(n, n // 10) for n in range(400))
    locked = tuple(
        DigestEntry(
            f"lock:{n}",
            EntryKind.LOCKED,
            "L" * 200,
            ref(n),
            lock_type=2,
            unlock_after="K" * 300,
            unlock_todo=("t" * 100,) * 9,
        )
        for n in range(100, 160)
    )
    ispring = tuple(DigestEntry(f"ispring:{n}", EntryKind.ISPRING, "I" * 500, overdue=True) for n in range(50))
    sessions = tuple(SessionInfo(str(n), "S" * 300, ref(1), START, room="R" * 300) for n in range(40))
    check_message(digest_message(Digest("2026-03-30", entries + locked + ispring, "Ada", sessions)))


def test_session_unlocked_and_manager_messages() -> None:
    session = SessionInfo(
        "77", "Feedback lab", ref(3), START, START + timedelta(hours=2), "Feedback", "Zoom", "Irene", "Online"
    )
    learner = check_message(session_reminder_message(SessionReminder(session, "day-before")))
    assert learner["text"] == "Session tomorrow: Feedback lab" and "*Where*\nZoom" in everything(learner)
    trainer = check_message(session_reminder_message(SessionReminder(session, "soon", as_trainer=True)))
    assert trainer["text"] == "You are running Feedback lab soon"
    notice = check_message(unlocked_message(UnlockedNotice(ref(2), "Coaching", 3)))
    assert "is now unlocked — 3 mandatory items waiting" in everything(notice)
    backlog = ModuleBacklog(ref(1), "Kick-off", tuple(LearnerBacklog(f"U{n}", n) for n in range(40)))
    overdue = tuple(
        OverdueResult(None if n % 2 else f"U{n}", f"ispring-{n}", "Code of Conduct", date(2026, 3, 1))
        for n in range(300)
    )
    weekly = check_message(manager_digest_message(ManagerDigest("2026-W14", (backlog,) * 30, overdue, "Margaret")))
    assert "Weekly LMS overdue digest · 2026-W14" in everything(weekly) and "and 25 more" in everything(weekly)
    assert "Hi Margaret — 40 learners still behind in tracked modules, 300 overdue iSpring modules." in everything(
        weekly
    )
    only_ispring = check_message(manager_digest_message(ManagerDigest("2026-W14", (), overdue[:11], "Margaret")))
    assert "Hi Margaret — 11 overdue iSpring modules." in everything(only_ispring)  # not "0 learners still behind"
    assert only_ispring["text"] == "Weekly LMS digest: 11 overdue iSpring modules"  # the notification too


def test_a_digest_with_only_unchecked_modules_says_so_instead_of_nothing_due() -> None:
    digest = Digest("2026-03-30", (), "Claude", unchecked=("Password Hygiene",))
    text = everything(check_message(digest_message(digest)))
    assert "Not checked yet (the LMS's budget is spent): *Password Hygiene*" in text, text
