"""Every client method over real HTTP against the LMS sandbox."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.devkit.clock import VirtualClock
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.seed import build_state
from bot.devkit.sandbox.server import SandboxServer
from bot.lms.errors import (
    BadRequestError,
    DailyBudgetExhaustedError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    UnreachableError,
)
from bot.lms.ispring_models import DateRange, ResultsFilter
from bot.lms.module_update import ModuleUpdateError, validate_module_update
from bot.lms.options import ModuleDataTransport
from bot.lms.ratelimit import RateLimitPolicy
from bot.lms.zoho_models import (
    Assignment,
    EmbedLink,
    LockType,
    OfflineTest,
    OnlineTest,
    SessionEntity,
)
from tests.support.lms import sandbox_clients

SP, M1, M2 = str(seed.SELF_PACED_COURSE), str(seed.SP_MODULE_1), str(seed.SP_MODULE_2)
BL, BATCH, KICKOFF = str(seed.BLENDED_COURSE), str(seed.BATCH_SPRING), str(seed.BL_KICKOFF)
ADA, GRACE = str(seed.SAMPLE_LEARNER), str(seed.PLANS_LEARNER)
EDSGER = "100002000000032193"  # has done nothing: module 2 (lockType 2) stays locked for him


async def test_self_paced_module_progress(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        progress = await lms.zoho.module_progress(SP, M1, ADA)
    assert progress.module_id == M1 and not progress.is_locked
    ids = {e.entity_id: e for e in progress.entities}
    assert isinstance(ids["100004000000038041"], OnlineTest)  # a big id, exact to the last digit
    assert isinstance(ids["100004000000048005"], EmbedLink)
    (call,) = sandbox.state.calls_for("module-progress")
    assert call.path == f"/api/v1/courses/{SP}/modules/{M1}/learners/{ADA}/progress"


async def test_blended_module_progress_has_every_entity_type(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        progress = await lms.zoho.module_progress(BL, KICKOFF, ADA, batch_id=BATCH)
    kinds = {type(e) for e in progress.entities}
    assert {OnlineTest, SessionEntity, OfflineTest, Assignment, EmbedLink} <= kinds
    session = next(e for e in progress.entities if isinstance(e, SessionEntity))
    assert session.start_date is not None and session.start_time is not None
    (call,) = sandbox.state.calls_for("module-progress")
    assert f"/batches/{BATCH}/" in call.path


async def test_module_locked_until_previous_completed(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        locked = await lms.zoho.module_progress(SP, M2, EDSGER)
        open_for_ada = await lms.zoho.module_progress(SP, M2, ADA)
    assert locked.is_locked and locked.entities == []
    assert not open_for_ada.is_locked and open_for_ada.entities


async def test_learning_plans(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        plans = await lms.zoho.learning_plans(GRACE)
    plan = next(p for p in plans if p.plan_id == str(seed.PLAN_L1))
    assert plan.name == "L1" and plan.user.user_id == "100002000000040623"
    assert plan.info.created_time is not None and plan.info.created_time.tzinfo is UTC


async def test_learning_plans_follow_start_index_across_pages(sandbox: SandboxServer) -> None:
    state = sandbox.state
    with state.lock:
        template = next(m for m in state.memberships if m.learner_id == seed.PLANS_LEARNER)
        from dataclasses import replace

        for i in range(40):
            plan = replace(state.plans[template.plan_id], plan_id=900000000000000000 + i, name=f"Plan {i}")
            state.plans[plan.plan_id] = plan
            state.memberships.append(replace(template, plan_id=plan.plan_id, plan_user_id=800000000000000000 + i))
        expected = sum(1 for m in state.memberships if m.learner_id == seed.PLANS_LEARNER)
    async with sandbox_clients(sandbox) as lms:
        plans = await lms.zoho.learning_plans(GRACE)
    assert len(plans) == expected > 25
    assert len({p.plan_id for p in plans}) == expected
    starts = [c.query.get("startIndex", ["0"])[0] for c in state.calls_for("learning-plans-progress")]
    assert starts[:2] == ["0", "25"]


async def test_module_sessions_follow_has_more_records(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    server = sandbox_factory(SandboxConfig(), state=build_state("demo", sessions=60))
    async with sandbox_clients(server) as lms:
        sessions = await lms.zoho.module_sessions(BL, BATCH, str(seed.BL_OFFICE_HOURS))
    assert len(sessions) == 60 and len({s.session_id for s in sessions}) == 60
    calls = server.state.calls_for("module-sessions")
    assert [c.query.get("startIndex", ["0"])[0] for c in calls] == ["0", "25", "50"]
    first = sessions[0]
    assert first.start_date is not None and first.start_time is not None and first.trainer


@pytest.mark.parametrize("transport", list(ModuleDataTransport))
async def test_update_module_persists(sandbox: SandboxServer, transport: ModuleDataTransport) -> None:
    until = date.today() + timedelta(days=30)
    update = validate_module_update(
        name="Phishing basics",
        duration="45",
        description="Spot the fake",
        lock_type="1",
        lock_until=until.strftime("%d-%m-%Y"),
    )
    async with sandbox_clients(sandbox, zoho_module_data_transport=transport) as lms:
        module = await lms.zoho.update_module(SP, M1, update)
        fetched = await lms.zoho.module(SP, M1)
        progress = await lms.zoho.module_progress(SP, M1, ADA)
    assert module.module_id == M1 and module.name == "Phishing basics"
    assert module.duration_minutes == 45 and module.lock_type is LockType.UNTIL_DATE and module.lock_until == until
    assert (fetched.name, fetched.lock_until, fetched.description) == (
        "Phishing basics",
        until,
        "Spot the fake",
    )
    assert progress.is_locked
    (call,) = sandbox.state.calls_for("update-module")
    assert call.method == "PATCH" and call.status == 200
    assert call.module_data == {
        "name": "Phishing basics",
        "duration": 45,
        "description": "Spot the fake",
        "lockType": 1,
        "lockUntil": until.strftime("%d-%m-%Y"),
    }
    if transport is ModuleDataTransport.QUERY:
        assert json.loads(call.query["moduleData"][0]) == call.module_data


async def test_blended_update_and_unlock(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        module = await lms.zoho.update_module(
            BL, KICKOFF, validate_module_update(name="Kick-off", lock_type="0"), batch_id=BATCH
        )
    assert module.lock_type is LockType.UNLOCKED and not module.is_locked
    (call,) = sandbox.state.calls_for("update-module")
    assert call.path == f"/api/v1/courses/{BL}/batches/{BATCH}/modules/{KICKOFF}"
    assert call.module_data == {"name": "Kick-off", "lockType": 0}


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": "  "}, "name"),
        ({"name": "A", "lock_type": "3"}, "lock_type"),
        ({"name": "A", "lock_type": "1"}, "lock_until"),
        ({"name": "A", "lock_type": "1", "lock_until": "2026-13-45"}, "lock_until"),
        ({"name": "A", "duration": "-5"}, "duration"),
        ({"name": "A", "duration": "soon"}, "duration"),
    ],
)
async def test_invalid_updates_send_nothing(sandbox: SandboxServer, fields: dict[str, str], bad: str) -> None:
    with pytest.raises(ModuleUpdateError) as info:
        validate_module_update(**fields)
    assert bad in info.value.field_errors
    assert not sandbox.state.calls_for("update-module")


async def test_read_only_connection_cannot_update(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox, zoho_refresh_token=sandbox.config.zoho_readonly_refresh_token) as lms:
        await lms.zoho.module_progress(SP, M1, ADA)  # reading is allowed
        with pytest.raises(ForbiddenError, match="not authorized"):
            await lms.zoho.update_module(SP, M1, validate_module_update(name="X"))


async def test_picker_lists(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        courses = await lms.zoho.my_courses()
        sp_modules = await lms.zoho.course_modules(SP)
        bl_modules = await lms.zoho.course_modules(BL, batch_id=BATCH)
        batches = await lms.zoho.course_batches(BL)
        single = await lms.zoho.module(BL, KICKOFF, batch_id=BATCH)
    by_id = {c.course_id: c for c in courses}
    assert by_id[BL].is_blended and not by_id[SP].is_blended
    assert [m.module_id for m in sp_modules][:2] == [M1, M2]
    assert sp_modules[1].lock_type is LockType.UNTIL_PREVIOUS_COMPLETED
    assert KICKOFF in {m.module_id for m in bl_modules}
    assert BATCH in {b.batch_id for b in batches}
    assert single.module_id == KICKOFF and single.name


async def test_unknown_ids_are_not_found(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        with pytest.raises(NotFoundError, match="Not found"):
            await lms.zoho.module_progress(SP, "100004000000000000", ADA)
        with pytest.raises(BadRequestError):
            await lms.zoho.module_progress(SP, "not-a-number", ADA)


async def test_bad_credentials_fail_clearly(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox, zoho_refresh_token="wrong") as lms:
        with pytest.raises(UnauthorizedError, match="refresh"):
            await lms.zoho.learning_plans(GRACE)
    assert not sandbox.state.calls_for("learning-plans-progress")


async def test_server_side_token_loss_refreshes_once(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        await lms.zoho.learning_plans(GRACE)
        with sandbox.state.lock:
            sandbox.state.tokens.clear()  # e.g. revoked or expired early on Zoho's side
        await lms.zoho.learning_plans(GRACE)
    statuses = [c.status for c in sandbox.state.calls_for("learning-plans-progress")]
    assert statuses == [200, 401, 200]


async def test_get_retries_server_errors_then_succeeds(sandbox: SandboxServer) -> None:
    sandbox.state.inject_fault("module-progress", status=500, count=2)
    async with sandbox_clients(sandbox) as lms:
        progress = await lms.zoho.module_progress(SP, M1, ADA)
    assert progress.entities
    assert [c.status for c in sandbox.state.calls_for("module-progress")] == [500, 500, 200]


async def test_persistent_server_errors_give_up(sandbox: SandboxServer) -> None:
    sandbox.state.inject_fault("module-progress", status=500, count=10)
    async with sandbox_clients(sandbox) as lms:
        with pytest.raises(ServerError, match="Server error"):
            await lms.zoho.module_progress(SP, M1, ADA)
    assert len(sandbox.state.calls_for("module-progress")) == 3  # 1 + 2 retries, bounded


async def test_timeout_is_unreachable(sandbox: SandboxServer) -> None:
    sandbox.state.inject_fault("learning-plans-progress", status=0, count=5, delay=1.0)
    async with sandbox_clients(sandbox, lms_timeout_seconds=0.2) as lms:
        with pytest.raises(UnreachableError, match="timed out"):
            await lms.zoho.learning_plans(GRACE)


@pytest.mark.parametrize(("lock_status", "lock_code"), [(422, None), (429, None), (200, 7209), (400, 7209)], ids=str)
async def test_lock_from_the_lms_stops_calls_for_the_lock_period(  # type: ignore[no-untyped-def]
    sandbox_factory, lock_status: int, lock_code: int | None
) -> None:
    clock = VirtualClock()
    # The LMS allows only 3 calls (someone else spent the rest of the budget); our limiter thinks 30.
    server = sandbox_factory(
        SandboxConfig(rate_limit=3, lock_status=lock_status, lock_code=lock_code),
        state=build_state("demo", clock=clock),
    )
    # 7209 locks whatever ZOHO_422_IS_LOCK says.
    async with sandbox_clients(server, clock=clock, zoho_422_is_lock=lock_code is None) as lms:
        for _ in range(3):
            await lms.zoho.learning_plans(GRACE)
        with pytest.raises(RateLimitedError) as info:
            await lms.zoho.learning_plans(GRACE)
        assert info.value.retry_after == pytest.approx(300, abs=1)
        sent = len(server.state.calls_for("learning-plans-progress"))
        clock.advance(299)
        with pytest.raises(RateLimitedError):
            await lms.zoho.learning_plans(GRACE, max_wait=0)
        assert len(server.state.calls_for("learning-plans-progress")) == sent  # nothing reached the LMS
        # Other endpoints are not locked.
        await lms.zoho.module_progress(SP, M1, ADA)
        clock.advance(2)
        plans = await lms.zoho.learning_plans(GRACE, max_wait=0)
    assert plans
    assert server.state.calls_for("learning-plans-progress")[-1].status == 200


async def test_the_daily_budget_is_never_exceeded_at_the_lms(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    clock = VirtualClock()
    server = sandbox_factory(SandboxConfig(), state=build_state("demo", clock=clock))
    async with sandbox_clients(server, clock=clock, zoho_daily_call_budget=5) as lms:
        await lms.zoho.learning_plans(GRACE)
        await lms.zoho.module_progress(SP, M1, ADA)
        await lms.zoho.module_progress(SP, M2, ADA)
        await lms.zoho.module_sessions(BL, BATCH, KICKOFF)
        await lms.zoho.learning_plans(GRACE)
        with pytest.raises(DailyBudgetExhaustedError) as info:
            await lms.zoho.module_progress(SP, M1, ADA)
        assert info.value.try_again_after.endswith("UTC tomorrow")  # VirtualClock starts at 22:13 UTC
        clock.advance(12 * 3600)
        with pytest.raises(DailyBudgetExhaustedError):  # rolling: half a day later the first calls still count
            await lms.zoho.learning_plans(GRACE, max_wait=8)
        assert await lms.ispring.module_results()  # iSpring documents no daily cap: not counted
        clock.advance(12 * 3600 + 61)
        await lms.zoho.learning_plans(GRACE)
    zoho_calls = [c for c in server.state.calls if c.endpoint != "zoho-token" and not c.endpoint.startswith("ispring")]
    assert len(zoho_calls) == 6 and {c.status for c in zoho_calls} == {200}


async def test_100_calls_stay_within_the_lms_limit(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    clock = VirtualClock()
    server = sandbox_factory(SandboxConfig(), state=build_state("demo", clock=clock))
    async with sandbox_clients(server, clock=clock, policy=RateLimitPolicy()) as lms:
        await clock.drive(lms.zoho.module_progress(SP, M1, ADA) for _ in range(100))
    calls = server.state.calls_for("module-progress")
    assert len(calls) == 100 and {c.status for c in calls} == {200}  # no lock was ever tripped
    times = sorted(c.at for c in calls)
    assert max(sum(1 for t in times if start <= t < start + 60) for start in times) <= 30


async def test_ispring_results_all_pages(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        everything = await lms.ispring.module_results()
        paged = await lms.ispring.module_results(ResultsFilter(page_size=2))
    assert len(everything) > 4
    assert [(r.user_id, r.module_id) for r in paged] == [(r.user_id, r.module_id) for r in everything]
    calls = sandbox.state.calls_for("ispring-results")
    assert len(calls) == 1 + -(-len(everything) // 2)
    assert any(r.is_overdue for r in everything)
    assert all(c.query.get("pageSize") in (None, ["2"]) for c in calls)


async def test_ispring_filters_are_sent_and_applied(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        everything = await lms.ispring.module_results()
        target = everything[0]
        since = datetime(2000, 1, 1, tzinfo=UTC)
        flt = ResultsFilter(
            user_ids=(target.user_id,),
            completion_statuses=(target.completion_status,),
            access_date=DateRange(start=since),
        )
        filtered = await lms.ispring.module_results(flt)
    assert filtered and all(
        r.user_id == target.user_id and r.completion_status == target.completion_status for r in filtered
    )
    query = sandbox.state.calls_for("ispring-results")[-1].query
    assert query["userIds[]"] == [target.user_id]
    assert query["completionStatuses[]"] == [target.completion_status]
    assert query["accessDate[startDate]"] == ["2000-01-01T00:00:00Z"]


async def test_ispring_blocked_users_only_on_request(sandbox: SandboxServer) -> None:
    async with sandbox_clients(sandbox) as lms:
        active = {r.user_id for r in await lms.ispring.module_results()}
        blocked = {r.user_id for r in await lms.ispring.module_results(ResultsFilter(user_statuses=("3",)))}
    assert blocked and not blocked & active


@pytest.mark.parametrize(("fmt", "scheme"), [("json", "bearer"), ("xml", "raw"), ("json", "raw")])
async def test_ispring_formats_and_auth_schemes(sandbox: SandboxServer, fmt: str, scheme: str) -> None:
    async with sandbox_clients(sandbox) as lms:
        reference = await lms.ispring.module_results()
    async with sandbox_clients(sandbox, ispring_response_format=fmt, ispring_auth_scheme=scheme) as lms:
        results = await lms.ispring.module_results()
    assert [r.model_dump() for r in results] == [r.model_dump() for r in reference]


async def test_ispring_bad_filter_sends_nothing(sandbox: SandboxServer) -> None:
    from bot.lms.errors import ValidationError

    async with sandbox_clients(sandbox) as lms:
        with pytest.raises(ValidationError, match="unknown completion status"):
            await lms.ispring.module_results(ResultsFilter(completion_statuses=("finished",)))
    assert not sandbox.state.calls_for("ispring-results")


@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_ispring_users_by_email(sandbox: SandboxServer, fmt: str) -> None:
    async with sandbox_clients(sandbox, ispring_response_format=fmt) as lms:
        everyone = await lms.ispring.users()
        (ada,) = await lms.ispring.users(emails=["ADA.LOVELACE@example.com"])
    assert len(everyone) == len(sandbox.state.ispring_users)
    assert ada.email == "ada.lovelace@example.com" and ada.name == "Ada Lovelace"
    expected = next(u.user_id for u in sandbox.state.ispring_users.values() if u.name == "Ada Lovelace")
    assert ada.user_id == expected
    assert sandbox.state.calls_for("ispring-users")[-1].query["emails[]"] == ["ADA.LOVELACE@example.com"]


async def test_registry_reuses_the_access_token_when_it_rebuilds_clients(sandbox: SandboxServer) -> None:
    """Zoho keeps at most 30 live access tokens per refresh token: rebuilding clients must not mint new ones."""
    from unittest.mock import AsyncMock

    import httpx

    from bot.lms.ratelimit import MemoryBackend, RateLimiter
    from bot.services.registry import LmsRegistry
    from tests.support.lms import sandbox_settings

    connections = AsyncMock()
    connections.get.return_value = None  # credentials from the environment, as in single-workspace mode
    now = [0.0]
    async with httpx.AsyncClient() as http:
        registry = LmsRegistry(
            sandbox_settings(sandbox), connections, RateLimiter(MemoryBackend()), http, clock=lambda: now[0]
        )
        for _ in range(3):
            lms = await registry.for_team("T1")
            await lms.zoho.learning_plans(GRACE)
            now[0] += 120  # past the registry's TTL: clients are rebuilt
    assert len(sandbox.state.calls_for("zoho-token")) == 1
