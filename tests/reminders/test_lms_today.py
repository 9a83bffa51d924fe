""" "Today" for a module's lock-until date is the process's one clock read in the LMS's zone, not the machine's.

The world runs on a virtual clock set to Monday 2026-03-30; the machine's own date is months later. A date
between the two is in the future for the LMS, so the edit must go through; a date before the virtual Monday
is in the past and must be refused before any PATCH.
"""

from __future__ import annotations

import pytest

from bot.lms.module_update import ModuleUpdateError
from tests.reminders.conftest import MONDAY, TEAM, MakeWorld


async def test_a_lock_until_date_is_judged_by_the_lms_clock(make_world: MakeWorld) -> None:
    world = await make_world()
    tracked = world.tracked["security-1"]
    edit = world.services.module_edit

    edited = await edit.submit(
        TEAM, "U0ADMIN", tracked.id, name="Phishing basics", lock_type="1", lock_until="2026-06-01"
    )

    assert MONDAY.date().isoformat() == "2026-03-30"
    assert edited.update.lock_until is not None and edited.update.lock_until.isoformat() == "2026-06-01"
    (call,) = world.sandbox.state.calls_for("update-module")
    assert call.module_data is not None and call.module_data["lockUntil"] == "01-06-2026"

    with pytest.raises(ModuleUpdateError) as refused:
        await edit.submit(TEAM, "U0ADMIN", tracked.id, name="Phishing basics", lock_type="1", lock_until="2026-03-29")
    assert set(refused.value.field_errors) == {"lock_until"}
    assert len(world.sandbox.state.calls_for("update-module")) == 1  # the refused one sent nothing
