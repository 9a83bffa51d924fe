"""Repositories: the only code that reads or writes rows. Each method is one short transaction and
returns frozen dataclasses, never ORM objects."""

from storage.repositories.audit import AuditEntry, AuditRepository
from storage.repositories.cache import LmsCacheRepository
from storage.repositories.connect_states import ConnectState, ConnectStateRepository
from storage.repositories.connections import ConnectionRepository, ProviderConnection, StoredAccessToken
from storage.repositories.links import LearnerLink, LinkMethod, LinkRepository, LinkResult
from storage.repositories.modules import TrackedModule, TrackedModuleRepository
from storage.repositories.preferences import PreferenceRepository, ReminderPreferences
from storage.repositories.reminders import Claim, SentReminder, SentReminderRepository

__all__ = [
    "AuditEntry",
    "AuditRepository",
    "Claim",
    "ConnectState",
    "ConnectStateRepository",
    "ConnectionRepository",
    "LearnerLink",
    "LinkMethod",
    "LinkRepository",
    "LinkResult",
    "LmsCacheRepository",
    "PreferenceRepository",
    "ProviderConnection",
    "ReminderPreferences",
    "SentReminder",
    "SentReminderRepository",
    "StoredAccessToken",
    "TrackedModule",
    "TrackedModuleRepository",
]
