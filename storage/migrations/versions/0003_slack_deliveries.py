"""Slack deliveries already taken in: replayed requests and redelivered events run once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_deliveries",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_deliveries")),
    )
    op.create_index(op.f("ix_slack_deliveries_seen_at"), "slack_deliveries", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_deliveries_seen_at"), table_name="slack_deliveries")
    op.drop_table("slack_deliveries")
