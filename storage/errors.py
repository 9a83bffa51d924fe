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


class DatabaseUnavailable(StorageError):
    """The database cannot be reached (down, restarting, network cut). `cause` is the driver's own words, for
    logs and operators; people are told only that it is unavailable."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"the database is unavailable: {cause}")
        self.cause = cause


def unavailable_cause(exc: BaseException) -> str | None:
    """One line saying why the database could not be used, when `exc` means it is unreachable; else None.

    SQLAlchemy's OperationalError/InterfaceError (and a DBAPI error that invalidated the connection) are the
    driver saying the server went away or refused us; OSError covers a socket failing under the driver.
    """
    from sqlalchemy import exc as sa

    if isinstance(exc, DatabaseUnavailable):
        return exc.cause
    if isinstance(exc, sa.OperationalError | sa.InterfaceError) or (
        isinstance(exc, sa.DBAPIError) and exc.connection_invalidated
    ):
        orig = exc.orig if exc.orig is not None else exc
        return _one_line(f"{type(orig).__name__}: {orig}")
    if isinstance(exc, ConnectionError | TimeoutError):
        return _one_line(f"{type(exc).__name__}: {exc}")
    return None


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines)[:300] if lines else "no reason given"
