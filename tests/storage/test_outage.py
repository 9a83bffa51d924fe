"""The database going away mid-life: one typed error while it is gone, and the same engine works again after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.db import Database
from storage.errors import DatabaseUnavailable, StorageError
from storage.repositories.leases import LeaseRepository
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(5432) as running:
        yield running


async def test_an_unreachable_database_is_database_unavailable_until_it_returns(
    postgres_url: str, proxy: TcpProxy
) -> None:
    db = Database(proxy.url_for(postgres_url))
    leases = LeaseRepository(db)
    try:
        assert await leases.current("outage-test") is None  # a pooled connection now exists
        proxy.cut()
        with pytest.raises(DatabaseUnavailable) as caught:
            await leases.current("outage-test")
        assert isinstance(caught.value, StorageError)
        assert "Connection refused" in caught.value.cause or "closed" in caught.value.cause
        assert str(caught.value).startswith("the database is unavailable: ")
        proxy.restore()
        assert await leases.current("outage-test") is None  # the pool recovers by itself
    finally:
        await db.dispose()
