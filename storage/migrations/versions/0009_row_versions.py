"""A version on every cached LMS answer and sent-log row, changed by each write: the scheduler keeps what it derived
from a row across sweeps and reads (and decodes) the row again only when its version moved.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("lms_cache", "sent_reminders")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
