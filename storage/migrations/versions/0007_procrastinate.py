"""The job queue of REMINDER_EXECUTOR=procrastinate: procrastinate's own schema, on PostgreSQL only.

The SQL is the one the installed procrastinate ships (`procrastinate schema --read`), so tables, functions
and triggers are exactly what its workers expect. SQLite has no procrastinate (it needs PostgreSQL's LISTEN,
row locks and plpgsql): there this revision does nothing. A later procrastinate that changes its schema comes
with a new revision here that runs procrastinate's own migration scripts (`procrastinate schema --migrations-path`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What procrastinate's schema creates besides its tables (dropped on downgrade with the tables, CASCADE).
_TYPES = ("procrastinate_job_to_defer_v1", "procrastinate_job_status", "procrastinate_job_event_type")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    # Many statements with plpgsql bodies, sent as they are; '%' doubled as procrastinate's own apply_schema does
    # (the driver reads placeholders).
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        DO $$
        DECLARE f record;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
            LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || f.sig || ' CASCADE';
            END LOOP;
        END $$;
        """
    )
    for table in (
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_jobs",
        "procrastinate_workers",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for name in _TYPES:
        op.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
