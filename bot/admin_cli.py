"""Admin commands: database, links, tracked modules, connections and encryption keys.

Every command is idempotent: running it twice changes nothing the second time (and says so).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.config import Settings
from bot.container import Services, build_services
from bot.errors import UserError
from bot.lms.errors import LMSError
from bot.services.connections import ConnectError
from bot.services.learning import NeedsSetup
from bot.services.links import LinkError, is_email, provider_name, slack_user_ref
from bot.services.slack_gateway import SlackNotInstalled
from bot.services.tracking import TrackError
from bot.services.types import Provider
from handlers.views.problems import problem_text, unchecked_note
from storage.errors import ConfigurationError, DecryptionError, StorageError, unavailable_cause

CLI_ACTOR = "cli"
# Failures that are the user's input or the world's state, not a bug: one line, no traceback.
EXPECTED = (LinkError, TrackError, ConnectError, NeedsSetup, LMSError, StorageError, SlackNotInstalled, ValueError)
# Of those, the ones the operator must fix in the configuration: exit code 2, like every command's setup errors.
OPERATOR = (ConfigurationError, DecryptionError)


def add_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_sub.add_parser("upgrade", help="apply every pending migration (the Procfile release step)")
    db_sub.add_parser("current", help="show the applied revision")
    db_sub.add_parser("check", help="fail if the models and the migrations disagree")

    p = sub.add_parser("link", help="link a Slack user to an LMS learner (or import a CSV of links)")
    p.add_argument("--team", required=True, help="Slack team (workspace) id, e.g. T0123")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="Slack user id (U…) or e-mail")
    who.add_argument("--csv", type=Path, help="file of `slack user id or e-mail, learner id[, provider]` rows")
    p.add_argument("--learner", help="learner id (or an e-mail iSpring knows)")
    p.add_argument("--provider", choices=[p.value for p in Provider])

    p = sub.add_parser("unlink", help="remove a Slack user's LMS link")
    p.add_argument("--team", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--provider", choices=[p.value for p in Provider])

    p = sub.add_parser("links", help="list links, or with --unmatched the members still unlinked")
    p.add_argument("--team")
    p.add_argument("--unmatched", action="store_true", help="members with no link (asks Slack for the members)")

    p = sub.add_parser("track", help="follow a module (for pickers and reminders)")
    p.add_argument("--team", required=True)
    p.add_argument("--course", required=True)
    p.add_argument("--batch")
    p.add_argument("--module", required=True)
    p.add_argument("--alias", help="a short name people type, e.g. onboarding-1")
    p.add_argument("--provider", choices=[p.value for p in Provider], default=Provider.ZOHO.value)
    p.add_argument("--no-verify", action="store_true", help="do not ask the LMS whether the module exists")

    p = sub.add_parser("untrack", help="stop following a module")
    p.add_argument("--team", required=True)
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--module", help="module id")
    ref.add_argument("--alias")
    ref.add_argument("--id", type=int, help="tracked module number")

    p = sub.add_parser("tracked", help="list tracked modules")
    p.add_argument("--team", required=True)

    p = sub.add_parser("connect", help="connect a workspace to Zoho (OAuth link) or iSpring (API key)")
    p.add_argument("provider", choices=[p.value for p in Provider])
    p.add_argument("--team", required=True)
    p.add_argument("--user", default=CLI_ACTOR, help="the Slack admin doing it (for the audit log)")
    p.add_argument("--data-center", help="Zoho data center: com, eu, in, com.au, jp, ca, sa, uk, com.cn")
    p.add_argument("--client-id", help="iSpring client id")
    p.add_argument("--client-secret", help="iSpring client secret (default: $ISPRING_CLIENT_SECRET)")
    p.add_argument("--api-url", help="iSpring API URL (default: $ISPRING_API_URL)")

    sub.add_parser(
        "status", help="per Zoho account: calls in the last 24 h, the daily budget, and the projection for today"
    )

    keys = sub.add_parser("keys", help="encryption keys for secrets at rest")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    keys_sub.add_parser("generate", help="print a new key to put first in LMSBOT_ENCRYPTION_KEYS")
    keys_sub.add_parser("rotate", help="re-encrypt every stored secret under the newest key")


COMMANDS = {"db", "link", "unlink", "links", "track", "untrack", "tracked", "connect", "status", "keys"}


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        return _db(args, settings)
    if args.command == "keys" and args.keys_command == "generate":
        from storage.crypto import Keyring

        print(Keyring.generate_key())
        return 0
    try:
        return asyncio.run(_with_services(settings, lambda services: _dispatch(args, services)))
    except EXPECTED as exc:
        said = problem_text(exc) if isinstance(exc, UserError) and not isinstance(exc, LMSError) else str(exc)
        print(f"error: {terminal_text(said)}", file=sys.stderr)
        return 2 if isinstance(exc, OPERATOR) else 1


def terminal_text(text: str) -> str:
    """Service messages are written for Slack; in a terminal, <@U123> reads better as U123."""
    return re.sub(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", r"\1", text)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    try:
        if args.db_command == "upgrade":
            before = migrate.current(settings.database_url)
            migrate.upgrade(settings.database_url)
            after = migrate.current(settings.database_url)
            was = before or "empty"
            print(f"database at {after}" + (" (already up to date)" if before == after else f" (was {was})"))
            return 0
        if args.db_command == "current":
            print(migrate.current(settings.database_url) or "empty (run `lmsbot db upgrade`)")
            return 0
        diff = migrate.pending_diff(settings.database_url)
        if diff:
            print("models and migrations disagree:", *diff, sep="\n  ", file=sys.stderr)
            return 1
        print("models and migrations agree")
        return 0
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, OPERATOR) else 1
    except Exception as exc:
        cause = unavailable_cause(exc)
        if cause is None:
            raise
        print(f"error: cannot reach the database in DATABASE_URL: {cause}", file=sys.stderr)
        return 2


async def _with_services(settings: Settings, work: Callable[[Services], Awaitable[int]]) -> int:
    services = build_services(settings)
    try:
        return await work(services)
    finally:
        await services.aclose()


async def _dispatch(args: argparse.Namespace, s: Services) -> int:
    command = args.command
    if command == "link":
        return await _link(args, s)
    if command == "unlink":
        user = await _user_id(s, args.team, args.user)
        removed = await s.links.unlink(args.team, user, actor=CLI_ACTOR, provider=_provider(args.provider))
        if not removed:
            print(f"{user} had no link (nothing changed)")
        for link in removed:
            print(f"unlinked {user} from {provider_name(link.provider)} learner {link.learner_id}")
        return 0
    if command == "links":
        if args.unmatched:
            if not args.team:
                raise ValueError("--unmatched needs --team")
            people = await s.links.unmatched(args.team)
            for person in people:
                print(f"{person.id}\t{person.email or '-'}\t{person.real_name}")
            print(f"{len(people)} member(s) without a link", file=sys.stderr)
            return 0
        links = await s.links_repo.list(args.team)
        for link in links:
            print(
                f"{link.team_id}\t{link.slack_user_id}\t{link.provider}\t{link.learner_id}\t"
                f"{link.email or '-'}\t{link.method}\t{link.linked_at:%Y-%m-%d %H:%M}"
            )
        print(f"{len(links)} link(s)", file=sys.stderr)
        return 0
    if command == "track":
        result = await s.tracking.track(
            args.team,
            CLI_ACTOR,
            course_id=args.course,
            module_id=args.module,
            batch_id=args.batch,
            alias=args.alias,
            provider=Provider(args.provider),
            verify=not args.no_verify,
        )
        t = result.tracked
        name = f" ({result.module_name})" if result.module_name else ""
        state = "already tracking (nothing changed)" if not result.changed else "tracking"
        print(f"{state} #{t.id} {t.alias or '-'}: module {t.module_id}{name} in course {t.course_id}")
        if result.unchecked:
            print(f"note: {unchecked_note(result.unchecked)}", file=sys.stderr)
        return 0
    if command == "untrack":
        ref = args.alias or args.module or f"#{args.id}"
        gone = await s.tracking.untrack(args.team, CLI_ACTOR, ref)
        print(f"untracked #{gone.id} {gone.label}" if gone else f"{ref} was not tracked (nothing changed)")
        return 0
    if command == "tracked":
        tracked = await s.tracking.list(args.team)
        if not tracked:
            print(f"no modules are tracked in {args.team}", file=sys.stderr)
        for t in tracked:
            batch = f" batch {t.batch_id}" if t.batch_id else ""
            print(f"#{t.id}\t{t.alias or '-'}\t{t.provider}\tcourse {t.course_id}{batch} module {t.module_id}")
        return 0
    if command == "connect":
        return await _connect(args, s)
    if command == "status":
        return await _status(s)
    if command == "keys":
        from storage.rotation import rotate_keys

        changed = await rotate_keys(s.db, s.keyring)
        print(f"re-encrypted {changed} value(s) under the newest key")
        return 0
    raise ValueError(f"unknown command {command}")  # pragma: no cover - argparse restricts the choices


async def _link(args: argparse.Namespace, s: Services) -> int:
    if args.csv is not None:
        try:
            text = args.csv.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ValueError(f"cannot read {args.csv}: {exc.strerror}") from exc
        report = await s.links.import_csv(args.team, text, actor=CLI_ACTOR)
        for result in report.linked:
            print(
                f"linked {result.link.slack_user_id} to {provider_name(result.link.provider)} {result.link.learner_id}"
            )
        for error in report.errors:
            print(f"error: {terminal_text(f'line {error.line}: {problem_text(error.error)}')}", file=sys.stderr)
        print(f"{len(report.linked)} linked, {report.unchanged} already linked, {len(report.errors)} error(s)")
        return 1 if report.errors else 0
    if not args.learner:
        raise ValueError("--learner is required with --user")
    user = await _user_id(s, args.team, args.user)
    result = await s.links.link(
        args.team, user, args.learner, actor=CLI_ACTOR, provider=_provider(args.provider), method="admin"
    )
    link = result.link
    if not result.changed:
        print(f"{user} is already linked to {provider_name(link.provider)} learner {link.learner_id} (nothing changed)")
    elif result.replaced:
        print(
            f"relinked {user}: {provider_name(link.provider)} learner {result.replaced.learner_id} → {link.learner_id}"
        )
    else:
        print(f"linked {user} to {provider_name(link.provider)} learner {link.learner_id}")
    return 0


async def _status(s: Services) -> int:
    accounts = await s.status.account_budgets()
    if s.settings.rate_limit_backend == "memory":
        print(
            "note: RATE_LIMIT_BACKEND=memory: every process counts only its own calls, so this shows none of the "
            "bot's; use redis or database to share (and see) the count",
            file=sys.stderr,
        )
    if not accounts:
        print("no Zoho account is connected or configured", file=sys.stderr)
        return 0
    # A fixed number of columns (the note may be empty) so scripts can split every line the same way.
    print("account\tused by\tcalls in the last 24 h\tdaily budget\tleft\ttoday so far\tprojected today\tnote")
    for a in accounts:
        d = a.daily
        print(
            f"{a.account}\t{','.join(a.used_by)}\t{d.used}\t{d.limit}\t{d.remaining}\t"
            f"{d.used_today} ({d.zone})\t{d.projected_today}\t" + ("over budget" if d.projected_today > d.limit else "")
        )
    return 0


async def _connect(args: argparse.Namespace, s: Services) -> int:
    if args.provider == Provider.ZOHO:
        url = await s.connections.start_zoho(args.team, args.user, args.data_center)
        print("Open this link (valid 10 minutes, once) to connect Zoho People; lmsbot serve must be running:")
        print(url)
        return 0
    secret = args.client_secret or (
        s.settings.ispring_client_secret.get_secret_value() if s.settings.ispring_client_secret else None
    )
    client_id = args.client_id or s.settings.ispring_client_id
    if not client_id or not secret:
        raise ValueError("iSpring needs --client-id and --client-secret (or ISPRING_CLIENT_ID/ISPRING_CLIENT_SECRET)")
    connection = await s.connections.connect_ispring(
        args.team, args.user, client_id=client_id, client_secret=secret, api_url=args.api_url
    )
    print(f"iSpring connected for {args.team} ({connection.api_url}, client {connection.client_id})")
    return 0


async def _user_id(s: Services, team: str, value: str) -> str:
    user = slack_user_ref(value)
    if user:
        return user
    if is_email(value):
        found = await s.slack.user_by_email(team, value)
        if found is None:
            raise ValueError(f"no Slack member of {team} has the e-mail {value}")
        return found.id
    raise ValueError(f"`{value}` is neither a Slack user id (U…) nor an e-mail")


def _provider(value: str | None) -> Provider | None:
    return Provider(value) if value else None
