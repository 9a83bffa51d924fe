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
    with pytest.raises(LinkConflict, match="already linked to <@U1>") as caught:
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
