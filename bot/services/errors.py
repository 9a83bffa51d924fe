"""The storage errors the services let through, named for the layer above: the error boundary
(`handlers.errors`) maps them to plain copy without importing storage itself."""

from __future__ import annotations

from storage.errors import DecryptionError, NotFound, StorageError, unavailable_cause

__all__ = ["DecryptionError", "NotFound", "StorageError", "unavailable_cause"]
