"""Slack user ↔ LMS learner links: one learner per user and provider, one user per learner."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias, cast

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import LinkConflict
from storage.models import LINK_METHODS, LearnerLinkRow
from storage.repositories._common import Provider, Repository, check_provider

LinkMethod: TypeAlias = Literal["self", "admin", "auto", "csv"]


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


class LinkRepository(Repository):
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
                    f"{provider} learner {learner_id} is already linked to <@{holder.slack_user_id}>; "
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
        async with self.db.transaction(write=False) as session:
            row = await self._one(
                session,
                LearnerLinkRow.team_id == team_id,
                LearnerLinkRow.slack_user_id == slack_user_id,
                LearnerLinkRow.provider == check_provider(provider),
            )
            return _record(row) if row else None

    async def by_learner(self, team_id: str, provider: str, learner_id: str) -> LearnerLink | None:
        async with self.db.transaction(write=False) as session:
            row = await self._one(
                session,
                LearnerLinkRow.team_id == team_id,
                LearnerLinkRow.provider == check_provider(provider),
                LearnerLinkRow.learner_id == learner_id.strip(),
            )
            return _record(row) if row else None

    async def list(self, team_id: str | None = None, provider: str | None = None) -> builtins.list[LearnerLink]:
        query = select(LearnerLinkRow).order_by(
            LearnerLinkRow.team_id, LearnerLinkRow.provider, LearnerLinkRow.slack_user_id
        )
        if team_id is not None:
            query = query.where(LearnerLinkRow.team_id == team_id)
        if provider is not None:
            query = query.where(LearnerLinkRow.provider == check_provider(provider))
        async with self.db.transaction(write=False) as session:
            return [_record(row) for row in (await session.scalars(query)).all()]

    @staticmethod
    async def _one(session: AsyncSession, *conditions: ColumnElement[bool]) -> LearnerLinkRow | None:
        row: LearnerLinkRow | None = (await session.scalars(select(LearnerLinkRow).where(*conditions))).one_or_none()
        return row


def _check_method(method: str) -> LinkMethod:
    if method not in LINK_METHODS:
        raise ValueError(f"unknown link method {method!r}; expected one of {', '.join(LINK_METHODS)}")
    return cast(LinkMethod, method)


def _record(row: LearnerLinkRow) -> LearnerLink:
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
