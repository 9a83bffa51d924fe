"""What the storage layer raises: small, typed, and worded so a Slack reply or CLI line can show it as is."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for everything raised by storage/."""


class ConfigurationError(StorageError):
    """Storage cannot start with the configuration it was given (a missing or malformed key, a bad URL)."""


class DecryptionError(StorageError):
    """A stored secret does not decrypt with any configured key."""


class NotFound(StorageError):
    """The row an operation needs does not exist."""


class LinkConflict(StorageError):
    """The learner is already linked to another Slack user in this workspace."""

    def __init__(self, message: str, *, slack_user_id: str, learner_id: str, provider: str) -> None:
        super().__init__(message)
        self.slack_user_id = slack_user_id  # who holds the learner now
        self.learner_id = learner_id
        self.provider = provider


class AliasConflict(StorageError):
    """The alias already names another tracked module in this workspace."""

    def __init__(self, message: str, *, alias: str, tracked_module_id: int) -> None:
        super().__init__(message)
        self.alias = alias
        self.tracked_module_id = tracked_module_id


class AmbiguousReference(StorageError):
    """A module id matches more than one tracked module; the alias or tracked id must be used instead."""

    def __init__(self, message: str, *, candidates: tuple[int, ...]) -> None:
        super().__init__(message)
        self.candidates = candidates
