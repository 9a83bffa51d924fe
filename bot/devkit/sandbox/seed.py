"""Deterministic seeded worlds for the sandbox.

`build_state("demo")` is a small company of eight named people; `learners=N` adds N generated learners
enrolled everywhere (benchmarks use 1,000). Every random draw comes from a `random.Random` keyed on the seed
string plus a purpose/learner key, so adding learners never changes the named people's data. Dates are
relative to `today` (default: the sandbox clock's UTC date).

Size (~480 lines): one seeded company, told top to bottom; most of it is data (courses, sessions, people).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from bot.devkit.sandbox.state import (
    Attempt,
    Batch,
    Course,
    Entity,
    EntityProgress,
    ISpringDepartment,
    ISpringResult,
    ISpringUser,
    Learner,
    LearningPlan,
    Module,
    PlanMembership,
    RealClock,
    SandboxState,
    Session,
)

# Doc sample ids (zoho-module-progress.txt, zoho-learning-plans-progress.txt) so doc-driven code finds them.
SELF_PACED_COURSE = 100004000000038001
SP_MODULE_1 = 100004000000038033
SP_MODULE_2 = 100004000000038101
SP_MODULE_3 = 100004000000038201
BLENDED_COURSE = 100002000000039001
BATCH_SPRING = 100002000000041383
BATCH_AUTUMN = 100002000000041401
BL_KICKOFF = 1000020123441383
BL_FEEDBACK = 100004000000045017
BL_COACHING = 100002000000045301
BL_OFFICE_HOURS = 100002000000045401
SAMPLE_LEARNER = 100002000000032145
PLANS_LEARNER = 190801059
PLAN_L1 = 100002000000046167

NAMED = [
    (SAMPLE_LEARNER, "Ada Lovelace", SAMPLE_LEARNER),
    (PLANS_LEARNER, "Grace Hopper", 100002000000040623),
    (100002000000032161, "Alan Turing", 100002000000032161),
    (100002000000032177, "Katherine Johnson", 100002000000032177),
    (100002000000032193, "Edsger Dijkstra", 100002000000032193),
    (100002000000032209, "Margaret Hamilton", 100002000000032209),
    (100002000000032225, "Barbara Liskov", 100002000000032225),
    (100002000000032241, "Claude Shannon", 100002000000032241),
]
BLOCKED_ISPRING = "Claude Shannon"  # a blocked iSpring user, hidden unless userStatuses[]=3

# Explicit progress levels per named learner: (self-paced M1..M3), (blended kick-off, feedback, office hours).
NAMED_LEVELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Ada Lovelace": (("done", "done", "partial"), ("partial", "none", "partial")),
    "Grace Hopper": (("done", "partial", "none"), ("done", "partial", "done")),
    "Alan Turing": (("partial", "none", "none"), ("done", "done", "none")),
    "Katherine Johnson": (("done", "none", "none"), ("partial", "none", "none")),
    "Edsger Dijkstra": (("none", "none", "none"), ("none", "none", "none")),
    "Margaret Hamilton": (("done", "done", "done"), ("done", "partial", "partial")),
    "Barbara Liskov": (("partial", "none", "none"), ("none", "none", "none")),
    "Claude Shannon": (("done", "partial", "none"), ("none", "none", "none")),
}

FIRST = ["Alex", "Sam", "Priya", "Chen", "Maria", "Olu", "Ivan", "Noor", "Lena", "Kofi", "Yuki", "Diego"]
LAST = [
    "Smith",
    "Patel",
    "Garcia",
    "Kim",
    "Novak",
    "Okafor",
    "Rossi",
    "Silva",
    "Berg",
    "Haddad",
    "Ito",
    "Moreau",
]


class _Ids:
    """Hands out fresh Zoho-style long ids."""

    def __init__(self, start: int) -> None:
        self._next = start

    def __call__(self) -> int:
        self._next += 16
        return self._next


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_state(
    seed: str = "demo",
    learners: int = 0,
    today: date | None = None,
    *,
    clock: Callable[[], float] | None = None,
    clock_speed: float = 1.0,
    sessions: int | None = None,
    mix: tuple[int, int, int] | None = None,
) -> SandboxState:
    """Build a seeded world. `sessions` is the number of Office Hours sessions in the sample batch
    (default 3, or 30 when `learners` > 0, so session paging beyond 25 is exercised). `mix`: weights of
    (complete, not started, in progress) per course for the generated learners (bench/sweep.py uses 60/25/15);
    by default each module is drawn on its own (the demo's data)."""
    state = SandboxState(clock or RealClock(clock_speed))
    today = today or state.today()
    office_hours = sessions if sessions is not None else (30 if learners > 0 else 3)
    ids = _Ids(100004000000050000)

    people = [Learner(lid, name, _email(name), uid) for lid, name, uid in NAMED]
    for i in range(learners):
        r = random.Random(f"{seed}:name:{i}")
        name = f"{r.choice(FIRST)} {r.choice(LAST)}"
        people.append(Learner(100002000100000000 + i * 16, name, _email(name, i), 100002000100000000 + i * 16))
    for person in people:
        state.learners[person.learner_id] = person

    self_paced = _self_paced_course(state, people)
    blended = _blended_course(state, people, today, ids, office_hours)
    for person in people:
        levels = NAMED_LEVELS.get(person.name) if person.learner_id < 100002000100000000 else None
        rng = random.Random(f"{seed}:progress:{person.learner_id}")
        if levels is None and mix is not None:
            levels = (_course_levels(self_paced, rng, mix), _course_levels(blended, rng, mix))
        _seed_course_progress(state, self_paced, None, person, levels[0] if levels else None, rng, today)
        batch = next((b.batch_id for b in blended.batches.values() if person.learner_id in b.learner_ids), None)
        _seed_course_progress(state, blended, batch, person, levels[1] if levels else None, rng, today)
    _seed_plans(state, people, today)
    _seed_ispring(state, people, seed, today)
    return state


def _email(name: str, n: int | None = None) -> str:
    local = name.lower().replace(" ", ".")
    return f"{local}{'' if n is None else n}@example.com"


def _self_paced_course(state: SandboxState, people: list[Learner]) -> Course:
    course = Course(SELF_PACED_COURSE, "Security Awareness", 1, "Stay safe online: phishing, passwords, reporting.")
    course.modules = [
        Module(
            SP_MODULE_1,
            "Phishing Basics",
            1,
            30,
            "Spot a phishing e-mail.",
            entities=[
                Entity(100004000000038041, "Test 1", "onlineTest", test_mark=1, max_attempts=1),
                Entity(100004000000048005, "Link", "embedLink"),
            ],
        ),
        Module(
            SP_MODULE_2,
            "Password Hygiene",
            2,
            20,
            "Password managers and MFA.",
            lock_type=2,
            entities=[
                Entity(100004000000048011, "Password manager guide", "embedLink"),
                Entity(
                    100004000000038111,
                    "Password quiz",
                    "onlineTest",
                    duration=10,
                    test_mark=5,
                    max_attempts=2,
                ),
            ],
        ),
        Module(
            SP_MODULE_3,
            "Reporting Incidents",
            3,
            15,
            "Who to call when something looks wrong.",
            entities=[
                Entity(100004000000048021, "Incident form walkthrough", "embedLink"),
                Entity(100004000000048031, "Further reading", "embedLink", mandatory=False),
            ],
        ),
    ]
    course.learner_ids = {p.learner_id for p in people}
    state.courses[course.course_id] = course
    return course


def _blended_course(state: SandboxState, people: list[Learner], today: date, ids: _Ids, office_hours: int) -> Course:
    course = Course(BLENDED_COURSE, "Leadership Essentials", 2, "A cohort programme for new team leads.")
    spring = Batch(BATCH_SPRING, "Spring Cohort", today - timedelta(days=14), today + timedelta(days=60))
    autumn = Batch(BATCH_AUTUMN, "Autumn Cohort", today + timedelta(days=30), today + timedelta(days=120))
    # Named learners split over the batches; generated ones all join the doc-sample batch.
    for i, person in enumerate(people):
        (autumn if 6 <= i < len(NAMED) else spring).learner_ids.add(person.learner_id)
    course.batches = {spring.batch_id: spring, autumn.batch_id: autumn}
    course.learner_ids = spring.learner_ids | autumn.learner_ids
    kickoff = Module(
        BL_KICKOFF,
        "Kick-off",
        1,
        120,
        "Meet the cohort and set goals.",
        entities=[
            Entity(100004000000045021, "Test 1", "onlineTest", test_mark=1, max_attempts=1),
            Entity(100004000000049001, "Role-play assessment", "offlineTest", duration=2, test_mark=2),
            Entity(100004000000049013, "Leadership statement", "assignment", assign_mark=10),
            Entity(100004000000049021, "Pre-reading", "embedLink"),
        ],
    )
    feedback = Module(
        BL_FEEDBACK,
        "Feedback Fundamentals",
        2,
        90,
        "Giving and receiving feedback.",
        lock_type=2,
        entities=[
            Entity(100004000000049101, "Feedback quiz", "onlineTest", duration=15, test_mark=10, max_attempts=3),
            Entity(
                100004000000049113,
                "Feedback journal",
                "assignment",
                assign_mark=20,
                submission_type="File Upload",
            ),
        ],
    )
    coaching = Module(
        BL_COACHING,
        "Coaching Skills",
        3,
        60,
        "The GROW model in practice.",
        lock_type=1,
        lock_until=today + timedelta(days=7),
        entities=[
            Entity(100004000000049201, "Coaching checklist", "embedLink"),
            Entity(100004000000049213, "Coaching observation", "offlineTest", duration=30, test_mark=10),
        ],
    )
    office = Module(BL_OFFICE_HOURS, "Office Hours", 4, 30, "Drop-in Q&A with the trainers.")
    course.modules = [kickoff, feedback, coaching, office]
    state.courses[course.course_id] = course

    def add(module: Module, batch: Batch, name: str, day: date, start: tuple[int, int], minutes: int) -> None:
        sid = 100004000000045088 if not state.sessions else ids()
        begin = dtime(*start)
        end_min = start[0] * 60 + start[1] + minutes
        session = Session(
            sid,
            batch.batch_id,
            module.module_id,
            name,
            f"{name} for {batch.name}",
            day,
            begin,
            dtime(end_min // 60, end_min % 60),
            "Classroom" if len(state.sessions) % 2 == 0 else "Online",
            "Room One" if len(state.sessions) % 2 == 0 else "Zoom",
            ids(),
            "Henry" if len(state.sessions) % 3 else "Irene",
            219225000000036453,
        )
        state.sessions[sid] = session
        mandatory = module.module_id != BL_OFFICE_HOURS
        module.entities.append(Entity(sid, name, "session", mandatory=mandatory, batch_id=batch.batch_id))

    add(kickoff, spring, "Sess", today - timedelta(days=10), (14, 0), 30)
    add(kickoff, spring, "Goal-setting workshop", today - timedelta(days=3), (10, 0), 90)
    add(kickoff, autumn, "Sess", today + timedelta(days=31), (14, 0), 30)
    add(feedback, spring, "Feedback lab", today + timedelta(days=3), (11, 0), 120)
    add(feedback, autumn, "Feedback lab", today + timedelta(days=45), (11, 0), 120)
    add(coaching, spring, "Coaching circle", today + timedelta(days=9), (15, 30), 60)
    add(office, autumn, "Office hours", today + timedelta(days=32), (16, 0), 30)
    for n in range(office_hours):
        add(office, spring, f"Office hours #{n + 1}", today + timedelta(days=n - 1), (16, 0), 30)
    return course


def _course_levels(course: Course, rng: random.Random, mix: tuple[int, int, int]) -> tuple[str, ...]:
    """One course's module levels for a learner who has completed it, not started it, or is in progress
    (then the modules before the one in hand are done)."""
    modules = [m for m in course.modules if m.module_id != BL_COACHING]
    state = rng.choices(["done", "none", "partial"], list(mix))[0]
    if state != "partial":
        return tuple(state for _ in modules)
    at = rng.randrange(len(modules))
    return tuple("done" if i < at else "partial" if i == at else "none" for i in range(len(modules)))


def _seed_course_progress(
    state: SandboxState,
    course: Course,
    batch_id: int | None,
    person: Learner,
    levels: tuple[str, ...] | None,
    rng: random.Random,
    today: date,
) -> None:
    if course.blended and batch_id is None:
        return
    modules = [m for m in course.modules if m.module_id != BL_COACHING]  # date-locked: nobody started yet
    for i, module in enumerate(modules):
        level = levels[i] if levels is not None else rng.choices(["done", "partial", "none"], [45, 30, 25])[0]
        if state.locked_for(person.learner_id, course, module, batch_id):
            level = "none"
        entities = state.visible_entities(module, batch_id)
        doable = [e for e in entities if e.type != "session" or state.sessions[e.entity_id].day < today]
        if level == "done":
            count = len(doable)
        elif level == "partial":
            count = max(1, len(doable) // 2) if len(doable) > 1 else 0
        else:
            count = 0
        for n, entity in enumerate(doable):
            state.progress[(person.learner_id, entity.entity_id)] = _entity_progress(entity, n < count, rng, today)


def do_next_item(
    state: SandboxState, learner_id: int, course_id: int, batch_id: int | None, module_id: int, rng: random.Random
) -> Entity | None:
    """The learner does the next mandatory item of a module open to them (not a session: those take a day in the
    room), today, as module-progress and the bulk answers will show it from then on; None when nothing is left to
    do there (or the module is locked for them)."""
    with state.lock:
        course = state.courses[course_id]
        module = state.module(course_id, module_id)
        enrolled = course.batches[batch_id].learner_ids if batch_id is not None else course.learner_ids
        if learner_id not in enrolled or state.locked_for(learner_id, course, module, batch_id):
            return None
        for entity in state.visible_entities(module, batch_id):
            if (
                entity.mandatory
                and entity.type != "session"
                and not state.entity_progress(learner_id, entity.entity_id).completed
            ):
                state.progress[(learner_id, entity.entity_id)] = _entity_progress(
                    entity, True, rng, state.today(), on=state.today()
                )
                return entity
    return None


def _entity_progress(
    entity: Entity, done: bool, rng: random.Random, today: date, *, on: date | None = None
) -> EntityProgress:
    when = on if on is not None else today - timedelta(days=rng.randint(1, 12))
    if entity.type == "session":
        return EntityProgress(completed=done, attendance="Present" if done else "Absent")
    if not done:
        return EntityProgress()
    if entity.type == "onlineTest":
        tries = rng.randint(1, entity.max_attempts)
        marks = [float(rng.randint((entity.test_mark + 1) // 2, entity.test_mark)) for _ in range(tries)]
        attempts = [Attempt(n + 1, m, when + timedelta(days=n)) for n, m in enumerate(marks)]
        return EntityProgress(completed=True, user_mark=max(marks), attempts=attempts)
    if entity.type == "offlineTest":
        return EntityProgress(completed=True, user_mark=float(rng.randint(1, entity.test_mark)))
    if entity.type == "assignment":
        mark = float(rng.randint(entity.assign_mark // 2, entity.assign_mark)) if rng.random() < 0.6 else None
        return EntityProgress(completed=True, user_mark=mark, submitted_on=when)
    return EntityProgress(completed=True)


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 9, tzinfo=UTC).timestamp() * 1000)


def _seed_plans(state: SandboxState, people: list[Learner], today: date) -> None:
    plans = [
        LearningPlan(PLAN_L1, "L1", 30, 1755596717804, 2, 1),
        LearningPlan(100002000000046201, "Onboarding Journey", 14, _ms(today - timedelta(days=90)), 3, 2),
        LearningPlan(100002000000046233, "Leadership Track", 60, _ms(today - timedelta(days=40)), 2, 2, image="7"),
    ]
    state.plans = {p.plan_id: p for p in plans}
    puid = _Ids(100002000000046189 - 16)
    # The doc sample membership: learner 190801059 in "L1", not yet completed, enrolledTime "null".
    state.memberships.append(PlanMembership(PLAN_L1, PLANS_LEARNER, puid()))
    for i, person in enumerate(people):
        state.memberships.append(
            PlanMembership(100002000000046201, person.learner_id, puid(), completed=i % 3 == 0, enrolled_ms=_ms(today))
        )
        if i in (0, 1, 5):
            joined = i != 5
            state.memberships.append(
                PlanMembership(100002000000046233, person.learner_id, puid(), joined=joined, enrolled_ms=None)
            )


ISPRING_COURSES = [
    ("Compliance 2024", ["Code of Conduct", "Anti-Bribery", "Data Protection"]),
    ("New Hire Onboarding", ["Welcome to the Company", "Tools & Systems"]),
]
# Named users cycle through these so every status (and overdue) shows up in the demo.
PATTERN = ["complete", "in_progress", "not_started", "overdue", "passed", "failed", "in_progress", "complete"]


def _seed_ispring(state: SandboxState, people: list[Learner], seed: str, today: date) -> None:
    rng = random.Random(f"{seed}:ispring")
    departments = [_uuid(rng), _uuid(rng)]
    catalog: list[tuple[str, list[tuple[str, str, str]]]] = []
    for _title, titles in ISPRING_COURSES:
        course_id = _uuid(rng)
        catalog.append((course_id, [(_uuid(rng), _uuid(rng), t) for t in titles]))
    for i, person in enumerate(people):
        r = random.Random(f"{seed}:ispring:{person.learner_id}")
        user = ISpringUser(
            _uuid(r),
            person.name,
            person.email,
            departments[i % 2],
            status=3 if person.name == BLOCKED_ISPRING else 1,
            learner_id=person.learner_id,
        )
        state.ispring_users[user.user_id] = user
        n = 0
        for course_id, modules in catalog:
            for module_id, item_id, title in modules:
                if i < len(NAMED):
                    kind = PATTERN[(i + n) % len(PATTERN)]
                else:
                    kind = r.choices(
                        ["complete", "in_progress", "not_started", "overdue", "passed", "failed"],
                        [35, 25, 15, 15, 5, 5],
                    )[0]
                n += 1
                state.ispring_results.append(
                    _result(r, user.user_id, course_id, module_id, item_id, title, kind, today)
                )
    _seed_departments(state, departments)


# Who supervises the two seeded departments (the named learners alternate between them).
DEPARTMENTS = [("Sales", "Grace Hopper"), ("Engineering", "Margaret Hamilton")]


def _seed_departments(state: SandboxState, ids: list[str]) -> None:
    by_name = {u.name: u.user_id for u in state.ispring_users.values()}
    for n, (department_id, (name, supervisor)) in enumerate(zip(ids, DEPARTMENTS, strict=True)):
        boss = by_name.get(supervisor)
        state.ispring_departments[department_id] = ISpringDepartment(
            department_id,
            name,
            str(n + 1),
            subordination_type="manual" if boss else "no_supervisor",
            supervisor_id=boss,
        )


def _result(
    r: random.Random,
    user_id: str,
    course_id: str,
    module_id: str,
    item_id: str,
    title: str,
    kind: str,
    today: date,
) -> ISpringResult:
    base = datetime(today.year, today.month, today.day, 21, tzinfo=UTC)
    access = base - timedelta(days=r.randint(10, 60))
    status = "in_progress" if kind == "overdue" else kind
    due: datetime | None
    if kind == "overdue":
        due = base - timedelta(days=r.randint(1, 9))
        status = r.choice(["in_progress", "not_started"])
    else:
        due = base + timedelta(days=r.randint(3, 30)) if r.random() < 0.6 else None
    result = ISpringResult(
        _uuid(r),
        user_id,
        course_id,
        module_id,
        title,
        item_id,
        _uuid(r),
        access,
        0,
        status,
        due_date=due,
        expiration_date=due if due is not None and r.random() < 0.3 else None,
    )
    if status in ("complete", "passed", "failed"):
        result.completion_date = access + timedelta(days=r.randint(1, 9), hours=r.randint(0, 5))
        result.progress = 100.0
        result.time_spent = r.randint(300, 3600)
    elif status == "in_progress":
        result.progress = round(r.uniform(5, 95), 2)
        result.time_spent = r.randint(10, 1800)
    return result
