"""A local emulator of the documented Zoho People LMS, Zoho Accounts and iSpring Learn APIs.

Independent of bot.lms on purpose: it follows the vendor pages listed in docs/references.md, not a client. Modules:
state (the world + call log + faults), seed (deterministic worlds), zoho / oauth / ispring (handlers),
app (routing and the auth / rate-limit / fault guard), server (SandboxServer, serve), cli (`lmsbot sandbox`).

Endpoint names (rate limits, call log, faults): my-courses, course-modules, single-module, course-batches,
module-progress, module-sessions, update-module, learning-plans-progress, unknown, ispring-results;
token endpoints: zoho-token, zoho-auth, zoho-revoke, ispring-token.
"""
