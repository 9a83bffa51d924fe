"""Slack user ↔ LMS learner links: one learner per user and provider, one user per learner.

Size (~370 lines): both write paths (one link; a bulk import in one transaction) enforce the same two rules,
so they sit with their shared records; the bulk planner (`_plan`) is pure and at the bottom.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.batching import Coalescer
from storage.db import Database
from storage.errors import LinkConflict
from storage.models import LINK_METHODS, AuditLogRow, LearnerLinkRow
from storage.repositories._common import Now, Provider, Repository, check_provider
from storage.repositories.audit import scrub

# Rows per statement in bulk writes: keeps every statement well inside both databases' parameter limits.
_CHUNK = 500
_LINKS = cast(Table, LearnerLinkRow.__table__)
_AUDIT = cast(Table, AuditLogRow.__table__)

LinkMethod: TypeAlias = Literal["self", "admin", "auto", "csv"]
_ByUser: TypeAlias = tuple[str, str, Provider]  # (team, Slack user, provider)
_ByLearner: TypeAlias = tuple[str, Provider, str]  # (team, provider, learner)


@dataclass(frozen=True, slots=True)
class LearnerLink:
    team_id: str
    slack_user_id: str
    provider: Provider
    learner_id: str
    email: str | None
    method: LinkMethod
    linked_by: str
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class LinkResult:
    link: LearnerLink
    changed: bool  # False: exactly this link already existed
    replaced: LearnerLink | None = None  # the user's previous link to a different learner, now gone


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One wanted link of a bulk import."""

    slack_user_id: str
    provider: str  # "zoho" or "ispring"
    learner_id: str
    email: str | None = None


def link_audit(result: LinkResult) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
    """The audit row of a changed link: target, old and new values (the same for single and bulk links)."""
    link = result.link
    old = {"learner_id": result.replaced.learner_id} if result.replaced else None
    return f"{link.slack_user_id}:{link.provider}", old, {"learner_id": link.learner_id, "method": link.method}


class LinkRepository(Repository):
    """Lookups that arrive together share one transaction and one SELECT (storage.batching): a burst of commands
    asks for every caller's Zoho and iSpring link at once."""

    def __init__(self, db: Database, *, clock: Now | None = None) -> None:
        super().__init__(db, clock=clock)
        self._get = Coalescer[_ByUser, LearnerLink | None](self._get_many)
        self._by_learner = Coalescer[_ByLearner, LearnerLink | None](self._by_learner_many)

    async def link(
        self,
        team_id: str,
        slack_user_id: str,
        provider: str,
        learner_id: str,
        *,
        email: str | None,
        method: str,
        linked_by: str,
    ) -> LinkResult:
        """Link (or relink) a user. Raises LinkConflict when the learner belongs to another Slack user."""
        provider = check_provider(provider)
        checked_method = _check_method(method)
        learner_id = learner_id.strip()
        if not learner_id:
            raise ValueError("a learner id cannot be empty")
        # Both unique keys include (team, provider): one lock covers every race between two linkers.
        async with self.db.transaction(locks=[f"link:{team_id}:{provider}"]) as session:
            holder = await self._one(
                session,
                LearnerLinkRow.team_id == team_id,
                LearnerLinkRow.provider == provider,
                LearnerLinkRow.learner_id == learner_id,
            )
            if holder is not None and holder.slack_user_id != slack_user_id:
                raise LinkConflict(
                    f"{provider} learner {learner_id} is already linked to Slack user {holder.slack_user_id}; "
                    "unlink them first",
                    slack_user_id=holder.slack_user_id,
                    learner_id=learner_id,
                    provider=provider,
                )
            current = holder or await self._one(
                session,
                LearnerLinkRow.team_id == team_id,
                LearnerLinkRow.slack_user_id == slack_user_id,
                LearnerLinkRow.provider == provider,
            )
            wanted = {"learner_id": learner_id, "email": email, "method": checked_method, "linked_by": linked_by}
            if current is None:
                row = LearnerLinkRow(
                    team_id=team_id, slack_user_id=slack_user_id, provider=provider, linked_at=self.now(), **wanted
                )
                session.add(row)
                await session.flush()
                return LinkResult(_record(row), changed=True)
            if current.learner_id == learner_id:
                # Same link: refresh its details if they differ; otherwise nothing to do.
                details = {k: v for k, v in wanted.items() if getattr(current, k) != v}
                for name, value in details.items():
                    setattr(current, name, value)
                if details:
                    current.linked_at = self.now()
                return LinkResult(_record(current), changed=bool(details))
            replaced = _record(current)
            for name, value in wanted.items():
                setattr(current, name, value)
            current.linked_at = self.now()
            await session.flush()
            return LinkResult(_record(current), changed=True, replaced=replaced)

    async def link_many(
        self, team_id: str, specs: Sequence[LinkSpec], *, method: str, linked_by: str
    ) -> builtins.list[LinkResult | LinkConflict]:
        """Apply many links in ONE transaction (all or nothing), with their audit rows; one outcome per spec.

        A spec whose learner would still be held by another user once the others are applied is a LinkConflict
        and is left out; everything else is applied as `link` would. A handful of statements however many rows:
        one read of the team's links, then batched DELETE (relinked users), UPDATE (new details) and INSERT.
        The specs must not repeat a user or a learner of one provider (the caller reports such lines).
        """
        checked_method = _check_method(method)
        specs = [LinkSpec(s.slack_user_id, check_provider(s.provider), s.learner_id.strip(), s.email) for s in specs]
        if not specs:
            return []
        if any(not s.learner_id for s in specs):
            raise ValueError("a learner id cannot be empty")
        if len({(s.slack_user_id, s.provider) for s in specs}) < len(specs) or len(
            {(s.provider, s.learner_id) for s in specs}
        ) < len(specs):
            raise ValueError("bulk links must not repeat a user or a learner of one provider")
        providers = sorted({s.provider for s in specs})
        table = _LINKS
        now = self.now()
        async with self.db.transaction(locks=[f"link:{team_id}:{p}" for p in providers]) as session:
            # Plain rows, not ORM objects: tens of thousands of them are read and compared.
            existing = [
                dict(row)
                for row in (
                    await session.execute(
                        select(*table.columns).where(table.c.team_id == team_id, table.c.provider.in_(providers))
                    )
                ).mappings()
            ]
            outcomes = _plan(specs, existing, team_id, checked_method, linked_by, now)
            removed = [o.replaced_id for o in outcomes if o.replaced_id is not None]
            for start in range(0, len(removed), _CHUNK):
                # Every relinked user's old row goes before any insert: swaps never collide mid-way.
                await session.execute(delete(table).where(table.c.id.in_(removed[start : start + _CHUNK])))
            details = [o.update for o in outcomes if o.update is not None]
            if details:
                statement = (
                    update(table)
                    .where(table.c.id == bindparam("row_id"))
                    .values({name: bindparam(name) for name in ("email", "method", "linked_by", "linked_at")})
                )
                for start in range(0, len(details), _CHUNK):
                    await session.execute(statement, details[start : start + _CHUNK])
            added = [o.insert for o in outcomes if o.insert is not None]
            for start in range(0, len(added), _CHUNK):
                await session.execute(insert(table), added[start : start + _CHUNK])
            audit_rows = [
                _audit_row(team_id, linked_by, o.result, now)
                for o in outcomes
                if isinstance(o.result, LinkResult) and o.result.changed
            ]
            for start in range(0, len(audit_rows), _CHUNK):
                await session.execute(insert(_AUDIT), audit_rows[start : start + _CHUNK])
        return [o.result for o in outcomes]

    async def unlink(self, team_id: str, slack_user_id: str, provider: str | None = None) -> builtins.list[LearnerLink]:
        """Remove the user's links (all providers unless one is given); returns what was removed."""
        conditions = [LearnerLinkRow.team_id == team_id, LearnerLinkRow.slack_user_id == slack_user_id]
        if provider is not None:
            conditions.append(LearnerLinkRow.provider == check_provider(provider))
        locks = [f"link:{team_id}:{p}" for p in ([provider] if provider else ["zoho", "ispring"])]
        async with self.db.transaction(locks=locks) as session:
            rows = (await session.scalars(delete(LearnerLinkRow).where(*conditions).returning(LearnerLinkRow))).all()
            return sorted((_record(row) for row in rows), key=lambda link: link.provider)

    async def get(self, team_id: str, slack_user_id: str, provider: str) -> LearnerLink | None:
        return await self._get((team_id, slack_user_id, check_provider(provider)))

    async def by_learner(self, team_id: str, provider: str, learner_id: str) -> LearnerLink | None:
        return await self._by_learner((team_id, check_provider(provider), learner_id.strip()))

    async def _get_many(self, keys: Sequence[_ByUser]) -> builtins.list[LearnerLink | None]:
        query = select(LearnerLinkRow).where(
            LearnerLinkRow.team_id.in_({team for team, _, _ in keys}),
            LearnerLinkRow.slack_user_id.in_({user for _, user, _ in keys}),
            LearnerLinkRow.provider.in_({provider for _, _, provider in keys}),
        )
        async with self.db.transaction(write=False) as session:
            links = [_record(row) for row in (await session.scalars(query)).all()]
        found = {(link.team_id, link.slack_user_id, link.provider): link for link in links}
        return [found.get(key) for key in keys]

    async def _by_learner_many(self, keys: Sequence[_ByLearner]) -> builtins.list[LearnerLink | None]:
        query = select(LearnerLinkRow).where(
            LearnerLinkRow.team_id.in_({team for team, _, _ in keys}),
            LearnerLinkRow.provider.in_({provider for _, provider, _ in keys}),
            LearnerLinkRow.learner_id.in_({learner for _, _, learner in keys}),
        )
        async with self.db.transaction(write=False) as session:
            links = [_record(row) for row in (await session.scalars(query)).all()]
        found = {(link.team_id, link.provider, link.learner_id): link for link in links}
        return [found.get(key) for key in keys]

    async def list(self, team_id: str | None = None, provider: str | None = None) -> builtins.list[LearnerLink]:
        # Core rows, not ORM objects: every sweep lists every link of the workspace.
        links = LearnerLinkRow.__table__.c
        query = select(*links).order_by(links.team_id, links.provider, links.slack_user_id)
        if team_id is not None:
            query = query.where(links.team_id == team_id)
        if provider is not None:
            query = query.where(links.provider == check_provider(provider))
        async with self.db.transaction(write=False) as session:
            return [_record(row) for row in await session.execute(query)]

    async def team_ids(self) -> builtins.list[str]:
        """Every workspace with someone linked: the workspaces a reminder sweep looks at."""
        query = select(LearnerLinkRow.team_id).distinct().order_by(LearnerLinkRow.team_id)
        async with self.db.transaction(write=False) as session:
            return [str(team) for team in (await session.scalars(query)).all()]

    @staticmethod
    async def _one(session: AsyncSession, *conditions: ColumnElement[bool]) -> LearnerLinkRow | None:
        row: LearnerLinkRow | None = (await session.scalars(select(LearnerLinkRow).where(*conditions))).one_or_none()
        return row


def _check_method(method: str) -> LinkMethod:
    if method not in LINK_METHODS:
        raise ValueError(f"unknown link method {method!r}; expected one of {', '.join(LINK_METHODS)}")
    return cast(LinkMethod, method)


@dataclass(slots=True)
class _Planned:
    result: LinkResult | LinkConflict
    replaced_id: int | None = None  # a row to delete
    update: dict[str, Any] | None = None  # new details of a row kept
    insert: dict[str, Any] | None = None  # a row to add


def _plan(
    specs: builtins.list[LinkSpec],
    existing: builtins.list[Any],
    team_id: str,
    method: LinkMethod,
    linked_by: str,
    now: datetime,
) -> builtins.list[_Planned]:
    """What each spec does to the team's current links (`existing`: LearnerLink fields plus "id")."""
    by_user = {(row["slack_user_id"], row["provider"]): row for row in existing}
    conflicts: dict[int, LinkConflict] = {}
    active = set(range(len(specs)))
    while True:  # a conflicting spec leaves its user's old link in place, which may block another spec
        moving = {(specs[i].slack_user_id, specs[i].provider) for i in active}
        holders = {
            (row["provider"], row["learner_id"]): row["slack_user_id"]
            for row in existing
            if (row["slack_user_id"], row["provider"]) not in moving
        }
        blocked = [
            i
            for i in active
            if holders.get((specs[i].provider, specs[i].learner_id), specs[i].slack_user_id) != specs[i].slack_user_id
        ]
        if not blocked:
            break
        for i in blocked:
            spec, holder = specs[i], holders[(specs[i].provider, specs[i].learner_id)]
            conflicts[i] = LinkConflict(
                f"{spec.provider} learner {spec.learner_id} is already linked to Slack user {holder}; "
                "unlink them first",
                slack_user_id=holder,
                learner_id=spec.learner_id,
                provider=spec.provider,
            )
            active.discard(i)
    planned: builtins.list[_Planned] = []
    for i, spec in enumerate(specs):
        if i in conflicts:
            planned.append(_Planned(conflicts[i]))
            continue
        values = {
            "team_id": team_id,
            "slack_user_id": spec.slack_user_id,
            "provider": spec.provider,
            "learner_id": spec.learner_id,
            "email": spec.email,
            "method": method,
            "linked_by": linked_by,
        }
        current = by_user.get((spec.slack_user_id, spec.provider))
        if current is not None and current["learner_id"] == spec.learner_id:
            if all(current[k] == v for k, v in values.items()):
                planned.append(_Planned(LinkResult(_link(current, current["linked_at"]), changed=False)))
                continue
            details = {"row_id": current["id"], "email": spec.email, "method": method, "linked_by": linked_by}
            result = LinkResult(_link(values, now), changed=True)
            planned.append(_Planned(result, update=details | {"linked_at": now}))
            continue
        replaced = _link(current, current["linked_at"]) if current is not None else None
        result = LinkResult(_link(values, now), changed=True, replaced=replaced)
        replaced_id = current["id"] if current is not None else None
        planned.append(_Planned(result, replaced_id=replaced_id, insert=values | {"linked_at": now}))
    return planned


def _audit_row(team_id: str, actor: str, result: LinkResult, now: datetime) -> dict[str, Any]:
    target, old, new = link_audit(result)
    return {
        "team_id": team_id,
        "actor": actor,
        "action": "link",
        "target": target,
        "old_values": scrub(old),
        "new_values": scrub(new),
        "created_at": now,
    }


def _link(values: dict[str, Any], linked_at: datetime) -> LearnerLink:
    return LearnerLink(
        team_id=values["team_id"],
        slack_user_id=values["slack_user_id"],
        provider=check_provider(values["provider"]),
        learner_id=values["learner_id"],
        email=values["email"],
        method=_check_method(values["method"]),
        linked_by=values["linked_by"],
        linked_at=linked_at,
    )


def _record(row: LearnerLinkRow | Row[Any]) -> LearnerLink:
    return LearnerLink(
        team_id=row.team_id,
        slack_user_id=row.slack_user_id,
        provider=check_provider(row.provider),
        learner_id=row.learner_id,
        email=row.email,
        method=_check_method(row.method),
        linked_by=row.linked_by,
        linked_at=row.linked_at,
    )
