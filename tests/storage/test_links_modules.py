"""Learner links and tracked modules."""

from __future__ import annotations

import pytest

from storage.db import Database
from storage.errors import AliasConflict, AmbiguousReference, LinkConflict
from storage.repositories import LinkRepository, TrackedModuleRepository


async def test_link_is_idempotent(db: Database) -> None:
    links = LinkRepository(db)
    first = await links.link("T1", "U1", "zoho", "700000000000000123", email="a@x.io", method="self", linked_by="U1")
    assert first.changed and first.replaced is None and first.link.learner_id == "700000000000000123"
    second = await links.link("T1", "U1", "zoho", "700000000000000123", email="a@x.io", method="self", linked_by="U1")
    assert not second.changed and second.link == first.link
    assert await links.get("T1", "U1", "zoho") == first.link
    assert await links.by_learner("T1", "zoho", "700000000000000123") == first.link


async def test_same_link_with_new_details_updates_them(db: Database) -> None:
    links = LinkRepository(db)
    await links.link("T1", "U1", "zoho", "L1", email=None, method="self", linked_by="U1")
    result = await links.link("T1", "U1", "zoho", "L1", email="a@x.io", method="admin", linked_by="UADMIN")
    assert result.changed and result.replaced is None
    assert (result.link.email, result.link.method, result.link.linked_by) == ("a@x.io", "admin", "UADMIN")


async def test_relinking_to_another_learner_replaces_and_reports_the_old_one(db: Database) -> None:
    links = LinkRepository(db)
    await links.link("T1", "U1", "zoho", "L1", email=None, method="self", linked_by="U1")
    result = await links.link("T1", "U1", "zoho", "L2", email=None, method="self", linked_by="U1")
    assert result.changed and result.replaced is not None and result.replaced.learner_id == "L1"
    assert await links.by_learner("T1", "zoho", "L1") is None
    assert [link.learner_id for link in await links.list("T1")] == ["L2"]


async def test_a_learner_linked_to_someone_else_is_a_conflict(db: Database) -> None:
    links = LinkRepository(db)
    await links.link("T1", "U1", "zoho", "L1", email=None, method="self", linked_by="U1")
    # Storage's words are for operators and logs: no Slack markup (services word it for people).
    with pytest.raises(LinkConflict, match="already linked to Slack user U1;") as caught:
        await links.link("T1", "U2", "zoho", "L1", email=None, method="self", linked_by="U2")
    assert caught.value.slack_user_id == "U1"
    assert await links.get("T1", "U2", "zoho") is None
    # The same learner id is free in another provider and another workspace.
    assert (await links.link("T1", "U2", "ispring", "L1", email=None, method="csv", linked_by="UA")).changed
    assert (await links.link("T2", "U2", "zoho", "L1", email=None, method="auto", linked_by="UA")).changed


async def test_unlink_and_list(db: Database) -> None:
    links = LinkRepository(db)
    await links.link("T1", "U1", "zoho", "Z1", email=None, method="self", linked_by="U1")
    await links.link("T1", "U1", "ispring", "I1", email=None, method="self", linked_by="U1")
    await links.link("T1", "U2", "zoho", "Z2", email=None, method="self", linked_by="U2")
    await links.link("T2", "U3", "zoho", "Z3", email=None, method="self", linked_by="U3")
    assert len(await links.list()) == 4
    assert [link.slack_user_id for link in await links.list("T1", "zoho")] == ["U1", "U2"]
    assert [link.learner_id for link in await links.unlink("T1", "U1", "ispring")] == ["I1"]
    assert await links.unlink("T1", "U1", "ispring") == []
    assert [link.learner_id for link in await links.unlink("T1", "U1")] == ["Z1"]
    assert await links.unlink("T1", "U1") == []
    assert len(await links.list()) == 2


async def test_link_validates_input(db: Database) -> None:
    links = LinkRepository(db)
    with pytest.raises(ValueError, match="link method"):
        await links.link("T1", "U1", "zoho", "L1", email=None, method="magic", linked_by="U1")
    with pytest.raises(ValueError, match="provider"):
        await links.link("T1", "U1", "moodle", "L1", email=None, method="self", linked_by="U1")
    with pytest.raises(ValueError, match="empty"):
        await links.link("T1", "U1", "zoho", "  ", email=None, method="self", linked_by="U1")


async def test_track_is_idempotent_and_batch_none_is_unique(db: Database) -> None:
    modules = TrackedModuleRepository(db)
    first, changed = await modules.track("T1", "zoho", "C1", None, "M1", alias=None, created_by="U1")
    assert changed and first.batch_id is None and first.alias is None
    again, changed = await modules.track("T1", "zoho", "C1", "", "M1", alias=None, created_by="U2")
    assert not changed and again == first
    batched, changed = await modules.track("T1", "zoho", "C1", "B1", "M1", alias=None, created_by="U1")
    assert changed and batched.id != first.id and batched.batch_id == "B1"
    assert len(await modules.list("T1")) == 2


async def test_alias_is_set_updated_and_kept(db: Database) -> None:
    modules = TrackedModuleRepository(db)
    module, _ = await modules.track("T1", "zoho", "C1", None, "M1", alias="Onboarding", created_by="U1")
    assert module.alias == "onboarding"
    same, changed = await modules.track("T1", "zoho", "C1", None, "M1", alias="onboarding", created_by="U1")
    assert not changed and same == module
    renamed, changed = await modules.track("T1", "zoho", "C1", None, "M1", alias="intro", created_by="U1")
    assert changed and renamed.alias == "intro" and renamed.id == module.id
    kept, changed = await modules.track("T1", "zoho", "C1", None, "M1", alias=None, created_by="U1")
    assert not changed and kept.alias == "intro"


async def test_alias_clash_with_another_module(db: Database) -> None:
    modules = TrackedModuleRepository(db)
    first, _ = await modules.track("T1", "zoho", "C1", None, "M1", alias="intro", created_by="U1")
    with pytest.raises(AliasConflict, match="'intro' already names module M1") as caught:
        await modules.track("T1", "zoho", "C1", None, "M2", alias="INTRO", created_by="U1")
    assert caught.value.tracked_module_id == first.id
    assert len(await modules.list("T1")) == 1  # nothing half-written
    _, changed = await modules.track("T2", "zoho", "C1", None, "M2", alias="intro", created_by="U1")
    assert changed  # aliases are per workspace
    with pytest.raises(ValueError, match="alias"):
        await modules.track("T1", "zoho", "C1", None, "M3", alias="123", created_by="U1")
    with pytest.raises(ValueError, match="alias"):
        await modules.track("T1", "zoho", "C1", None, "M3", alias="two words", created_by="U1")


async def test_find_and_untrack_by_alias_id_or_module(db: Database) -> None:
    modules = TrackedModuleRepository(db)
    a, _ = await modules.track("T1", "zoho", "C1", None, "900000000000000001", alias="intro", created_by="U1")
    b, _ = await modules.track("T1", "ispring", "C2", None, "uuid-b", alias=None, created_by="U1")
    assert await modules.find("T1", "Intro") == a
    assert await modules.find("T1", "900000000000000001") == a
    assert await modules.find("T1", f"#{b.id}") == b
    assert await modules.find("T1", str(b.id)) == b
    assert await modules.find("T1", "uuid-b") == b
    assert await modules.find("T2", "intro") is None
    assert await modules.find("T1", "nothing") is None and await modules.find("T1", "") is None
    assert await modules.find("T1", "99999999999999999999") is None
    assert await modules.get("T1", a.id) == a
    assert await modules.untrack("T1", "intro") == a
    assert await modules.untrack("T1", "intro") is None
    assert await modules.list("T1") == [b]


async def test_a_module_tracked_twice_is_ambiguous_by_module_id(db: Database) -> None:
    modules = TrackedModuleRepository(db)
    a, _ = await modules.track("T1", "zoho", "C1", "B1", "M1", alias=None, created_by="U1")
    b, _ = await modules.track("T1", "zoho", "C1", "B2", "M1", alias=None, created_by="U1")
    with pytest.raises(AmbiguousReference) as caught:
        await modules.find("T1", "M1")
    assert caught.value.candidates == (a.id, b.id)
    with pytest.raises(AmbiguousReference):
        await modules.untrack("T1", "M1")
    assert len(await modules.list("T1")) == 2
    assert await modules.untrack("T1", f"#{a.id}") == a


async def test_bulk_links_swap_relink_and_cascade_conflicts_in_one_go(db: Database) -> None:
    from storage.repositories.audit import AuditRepository
    from storage.repositories.links import LinkSpec

    links = LinkRepository(db)
    for user, learner in (("UA", "L1"), ("UB", "L2"), ("UC", "L5"), ("UD", "L6"), ("UF", "L7")):
        await links.link("T1", user, "zoho", learner, email=None, method="admin", linked_by="UADMIN")
    specs = [
        LinkSpec("UA", "zoho", "L2"),  # swap with UB: both unique keys move at once
        LinkSpec("UB", "zoho", "L1"),
        LinkSpec("UD", "zoho", "L5"),  # UC keeps L5: a conflict...
        LinkSpec("UE", "zoho", "L6"),  # ...so UD keeps L6, and this is one too
        LinkSpec("UF", "zoho", "L7", "f@x.io"),  # same learner, new details
        LinkSpec("UG", "ispring", "L1"),  # another provider: ids may repeat
    ]
    outcomes = await links.link_many("T1", specs, method="csv", linked_by="cli")
    conflicts = [(o.slack_user_id, o.learner_id) for o in outcomes if isinstance(o, LinkConflict)]
    assert conflicts == [("UC", "L5"), ("UD", "L6")]
    replaced = {
        o.link.slack_user_id: o.replaced.learner_id for o in outcomes if not isinstance(o, LinkConflict) and o.replaced
    }
    assert replaced == {"UA": "L1", "UB": "L2"}
    now = {
        (link.slack_user_id, link.provider): (link.learner_id, link.method, link.email)
        for link in await links.list("T1")
    }
    assert now == {
        ("UA", "zoho"): ("L2", "csv", None),
        ("UB", "zoho"): ("L1", "csv", None),
        ("UC", "zoho"): ("L5", "admin", None),
        ("UD", "zoho"): ("L6", "admin", None),
        ("UF", "zoho"): ("L7", "csv", "f@x.io"),
        ("UG", "ispring"): ("L1", "csv", None),
    }
    audit = await AuditRepository(db).list("T1", limit=100)
    assert sorted(e.target or "" for e in audit if e.actor == "cli") == ["UA:zoho", "UB:zoho", "UF:zoho", "UG:ispring"]
    again = await links.link_many("T1", specs, method="csv", linked_by="cli")
    assert [o.changed for o in again if not isinstance(o, LinkConflict)] == [False] * 4


async def test_bulk_links_failing_half_way_leave_nothing(db: Database) -> None:
    from sqlalchemy import event

    from storage.repositories.links import LinkSpec

    links = LinkRepository(db)
    await links.link("T1", "U00001", "zoho", "L1", email=None, method="admin", linked_by="UADMIN")
    specs = [LinkSpec(f"U{i:05d}", "zoho", f"N{i}") for i in range(2500)]
    inserts = 0

    def fail_on_the_third_insert(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal inserts
        if statement.lstrip().upper().startswith("INSERT INTO LEARNER_LINKS"):
            inserts += 1
            if inserts == 3:
                raise RuntimeError("connection lost")

    event.listen(db.engine.sync_engine, "before_cursor_execute", fail_on_the_third_insert)
    try:
        with pytest.raises(RuntimeError, match="connection lost"):
            await links.link_many("T1", specs, method="csv", linked_by="cli")
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", fail_on_the_third_insert)
    assert inserts == 3
    assert [(link.slack_user_id, link.learner_id) for link in await links.list("T1")] == [("U00001", "L1")]
