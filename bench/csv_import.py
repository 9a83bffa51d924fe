"""CSV link import benchmark on PostgreSQL: 10,000 rows (`lmsbot link --csv`), the way production stores them.

Three imports into a throw-away database (migrated like production): a fresh file (every row a new link), the
same file again (nothing changes: idempotent), and a file relinking every one of those people to another
learner (each link replaced, with its audit row). Each import is one transaction; the target is well under 15 s.

Needs PostgreSQL at LMSBOT_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test, as the tests);
BENCH_CSV_ROWS changes the row count. No LMS or Slack is called: the rows name Slack user ids and Zoho ids.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

import psycopg
from psycopg import sql

from bot.config import Settings
from bot.container import build_services
from storage import migrate
from storage.crypto import Keyring
from storage.db import parse_url

ROWS = int(os.environ.get("BENCH_CSV_ROWS", "10000"))
ADMIN_URL = os.environ.get("LMSBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEAM = "T0BENCH"
LIMIT_SECONDS = 15.0


def _conninfo(url: str) -> str:
    return parse_url(url)[1].set(drivername="postgresql").render_as_string(hide_password=False)


def _csv(first_learner: int) -> str:
    lines = ["slack user,learner id,provider"]
    lines += [f"U0CSV{i:06d},{first_learner + i},zoho" for i in range(ROWS)]
    return "\n".join(lines) + "\n"


async def run(db_url: str) -> bool:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        lmsbot_env="development",
        lmsbot_encryption_keys=Keyring.generate_key(),
        slack_bot_token="xoxb-bench",
        slack_api_url="http://127.0.0.1:9/api/",  # never called: the rows use Slack user ids
        zoho_people_url="http://127.0.0.1:9",  # never called: an import checks ids' shape, not the LMS
        zoho_accounts_url="http://127.0.0.1:9",
        zoho_client_id="bench",
        zoho_client_secret="bench",
        zoho_refresh_token="bench",
    )
    services = build_services(settings)
    ok = True
    try:
        for label, text, linked, unchanged in (
            ("fresh", _csv(700000000000000000), ROWS, 0),
            ("same file again", _csv(700000000000000000), 0, ROWS),
            ("relink everyone", _csv(800000000000000000), ROWS, 0),
        ):
            started = time.perf_counter()
            report = await services.links.import_csv(TEAM, text, actor="cli")
            elapsed = time.perf_counter() - started
            good = len(report.linked) == linked and report.unchanged == unchanged and not report.errors
            fast = elapsed < LIMIT_SECONDS
            ok = ok and good and fast
            print(
                f"{label:>16}: {ROWS:,} rows in {elapsed:6.2f} s ({ROWS / elapsed:,.0f} rows/s) — "
                f"{len(report.linked):,} linked, {report.unchanged:,} already linked, {len(report.errors)} error(s)"
                f"{'' if good else '  UNEXPECTED COUNTS'}{'' if fast else f'  OVER {LIMIT_SECONDS:g} s'}"
            )
        links = await services.links_repo.list(TEAM)
        audit = len(await services.audit.list(TEAM, limit=3 * ROWS))
        print(f"{len(links):,} links stored, {audit:,} audit rows (one per change)")
    finally:
        await services.aclose()
    return ok


def main() -> int:
    name = f"lmsbot_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(_conninfo(ADMIN_URL), autocommit=True)
    except psycopg.OperationalError as exc:
        print(f"skipped: PostgreSQL is not reachable at {parse_url(ADMIN_URL)[1].host} ({exc})".strip())
        return 0
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = _conninfo(str(parse_url(ADMIN_URL)[1].set(database=name)))
        try:
            migrate.upgrade(url)
            ok = asyncio.run(run(url))
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
