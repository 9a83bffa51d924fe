"""The CLI against a hostile LMS, one case at a time: time to error and peak RSS (no network beyond 127.0.0.1).

Each case runs `lmsbot lms results` (iSpring) or `lmsbot lms courses` (Zoho) in a fresh process pointed at
tests/support/hostile_lms.py, with the shipped limits (LMS_CALL_DEADLINE_SECONDS=30, LMS_MAX_RESPONSE_BYTES=20 MB)
unless given, and prints a Markdown table. The first row, `healthy`, is the CLI's own start-up time and memory,
to read the others against. Every case runs with the shipped rate limit (30 calls a minute) and page caps, as
an operator's CLI would: endless pages end at the deadline, with the pages read by then.

    .venv/bin/python -m bench.hostile_lms [--deadline 30] [--only slowloris,huge-body] [--provider ispring]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # `make bench` runs the file
from tests.support.hostile_lms import HostileLms, Mode, bomb

COMMANDS = {"ispring": ["lms", "results"], "zoho": ["lms", "courses"]}
TOKEN_CASE = "slowloris-token"


@dataclass
class Row:
    case: str
    provider: str
    code: int
    seconds: float
    peak_mb: float
    line: str


def run_case(server: HostileLms, case: str, provider: str, deadline: float | None) -> Row:
    mode = Mode.SLOWLORIS if case == TOKEN_CASE else Mode(case)
    server.mode = mode
    server.hostile_tokens = case == TOKEN_CASE
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ZOHO_PEOPLE_URL": server.url,
        "ZOHO_ACCOUNTS_URL": server.url,
        "ZOHO_CLIENT_ID": "bench",
        "ZOHO_CLIENT_SECRET": "bench",
        "ZOHO_REFRESH_TOKEN": "bench",
        "ISPRING_API_URL": server.ispring_url,
        "ISPRING_CLIENT_ID": "bench",
        "ISPRING_CLIENT_SECRET": "bench",
    }
    if deadline is not None:
        env["LMS_CALL_DEADLINE_SECONDS"] = str(deadline)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root
    with tempfile.TemporaryDirectory() as cwd:  # no stray .env is read
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *COMMANDS[provider]],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    lines = err.strip().splitlines()
    line = lines[-1] if lines else ""
    if len(lines) != 1:
        line = f"[{len(lines)} lines] {line}"
    return Row(case, provider, proc.returncode, seconds, usage.ru_maxrss / 1024, line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, help="LMS_CALL_DEADLINE_SECONDS (default: the shipped 30)")
    parser.add_argument("--only", help="comma-separated cases")
    parser.add_argument("--provider", choices=sorted(COMMANDS), action="append")
    args = parser.parse_args()
    # healthy first: its time and RSS are the CLI's own start-up cost, to read the other rows against
    cases = [m.value for m in Mode] + [TOKEN_CASE]
    if args.only:
        cases = [c for c in cases if c in args.only.split(",")]
    providers = args.provider or sorted(COMMANDS)
    bomb()  # made once, before any timing
    rows: list[Row] = []
    with HostileLms(trickle_interval=0.5) as server:
        for case in cases:
            for provider in providers:
                row = run_case(server, case, provider, args.deadline)
                rows.append(row)
                print(f"  {case} / {provider}: {row.seconds:.2f} s", file=sys.stderr, flush=True)
    print("| case | LMS | exit | time to error | peak RSS | what the CLI printed |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        text = r.line.replace("|", "\\|")[:140]
        print(f"| {r.case} | {r.provider} | {r.code} | {r.seconds:.2f} s | {r.peak_mb:.0f} MB | {text} |")


if __name__ == "__main__":
    main()
