"""Development tools, never imported by the production code paths (`serve`, `socket`, `scheduler`, `worker`).

- sandbox/: a local emulator of the Zoho People, Zoho Accounts and iSpring Learn APIs (`lmsbot sandbox`).
- slackstub/: a local stand-in for Slack's Web API and a driver that plays Slack towards the bot.
- devstack.py: sandbox + Slack stand-in + database + the bot, all local (tests, benchmarks, the demo).
- console.py, demo.py: `lmsbot shell` and `make demo` / `lmsbot demo`.
- clock.py: VirtualClock, a clock tests and benchmarks drive by hand.
- threaded_server.py: any ASGI app served by uvicorn in a background thread.

The import-linter contract "devkit is imported by nothing in production" (pyproject.toml) and
tests/test_devkit_isolation.py hold the line.
"""
