"""Who may do what: Slack workspace admins/owners plus the users named in configuration.

- admin: Slack admins and owners, and LMSBOT_ADMINS — connect LMSs, link others, track modules, edit modules;
- trainer: LMSBOT_TRAINERS — edit modules;
- manager: LMSBOT_MANAGERS — see others' results and the overdue digest;
- everyone else is a learner and sees only their own data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.config import Settings
from bot.errors import UserError
from bot.services.slack_gateway import SlackGateway


class Role(StrEnum):
    """Who may do something that not everyone may."""

    ADMIN = "admin"
    EDITOR = "editor"  # admins and trainers
    MANAGER = "manager"  # admins and managers


class NotAllowed(UserError):
    """Refused before anything was sent to the LMS: `role` may do `what` ("link other people"), the caller may not.

    The words people see are the views' (`handlers.views.notices.refusal`); `message` is for logs."""

    def __init__(self, role: Role, what: str) -> None:
        super().__init__(f"not allowed to {what} (needs {role.value})")
        self.role = role
        self.what = what


@dataclass(frozen=True, slots=True)
class Roles:
    admin: bool = False
    trainer: bool = False
    manager: bool = False

    @property
    def can_edit_modules(self) -> bool:
        return self.admin or self.trainer

    @property
    def can_see_others(self) -> bool:
        return self.admin or self.manager


class RoleService:
    def __init__(self, settings: Settings, slack: SlackGateway) -> None:
        self._admins = Settings.user_list(settings.lmsbot_admins)
        self._trainers = Settings.user_list(settings.lmsbot_trainers)
        self._managers = Settings.user_list(settings.lmsbot_managers)
        self._slack = slack

    async def roles(self, team_id: str, user_id: str) -> Roles:
        admin = user_id in self._admins
        if not admin:
            user = await self._slack.user(team_id, user_id)
            admin = user.is_admin or user.is_owner
        return Roles(admin=admin, trainer=user_id in self._trainers, manager=user_id in self._managers)

    async def admins(self, team_id: str) -> list[str]:
        """Everyone who may link people: the workspace's admins and owners, then LMSBOT_ADMINS (no bots, no
        deactivated accounts; each once)."""
        people = await self._slack.users(team_id)
        found = [p.id for p in people if p.is_admin or p.is_owner]
        active = {p.id for p in people}
        found += [u for u in sorted(self._admins) if u in active and u not in found]
        return found

    async def require_admin(self, team_id: str, user_id: str, what: str) -> Roles:
        roles = await self.roles(team_id, user_id)
        if not roles.admin:
            raise NotAllowed(Role.ADMIN, what)
        return roles

    async def require_editor(self, team_id: str, user_id: str) -> Roles:
        roles = await self.roles(team_id, user_id)
        if not roles.can_edit_modules:
            raise NotAllowed(Role.EDITOR, "edit modules")
        return roles

    async def require_manager(self, team_id: str, user_id: str, what: str) -> Roles:
        roles = await self.roles(team_id, user_id)
        if not roles.can_see_others:
            raise NotAllowed(Role.MANAGER, what)
        return roles
