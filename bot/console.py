"""`lmsbot shell` and the `make demo` tour: talk to the real bot as a chosen demo user, in a terminal.

Like errbot's text backend: `/lms progress` typed here goes through the real Bolt app as a signed HTTP request,
exactly as Slack sends it, and every Web API call the bot makes (messages, ephemeral replies, modals, the Home
tab) is rendered readably. Modals are filled in at a prompt.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from bot.devstack import DevStack
from bot.reminders_cli import sweep_now
from bot.slackstub.driver import iter_elements
from bot.slackstub.render import PLAIN, Style, render_call, render_view

Json = dict[str, Any]
Ask = Callable[[str], str]

SHELL_HELP = """\
Type a slash command as the current user, e.g. `/lms progress` or `/lms edit-module security-1`.
  as <name>            act as another demo user (ada, grace = admin, margaret = manager, alan = trainer, …)
  users                list the demo users
  home                 open the bot's Home tab
  click <action> [v]   click a button (by its action id, shown in brackets) in the last reply or modal
  remind [all]         run a reminder sweep now for you (or everyone), as if it were the send time
  lms complete <learner> <item>            act in the LMS sandbox: complete a Zoho item or an iSpring module
                                           for a learner (name, e-mail or id), e.g. lms complete ada Pre-reading
  lms sessions                             the sandbox's sessions, with their ids
  lms move-session <id> <YYYY-MM-DD> <HH:MM> [<HH:MM> end]   move a session
  lms add-learner <name> <e-mail> [<course id> [<batch id>]]  add a learner to the sandbox
  help                 this text;  quit  leaves"""


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the scripted tour, with answers for a modal it opens."""

    line: str
    note: str = ""
    answers: dict[str, str] = field(default_factory=dict)  # input label (lower case) -> what to type


TOUR: tuple[Step, ...] = (
    Step("/lms help", "Every subcommand, with examples."),
    Step("/lms progress", "Ada's progress in every tracked module."),
    Step("/lms progress kickoff", "One module by its alias; answered from the cache this time."),
    Step("/lms plans", "Learning plans."),
    Step("/lms sessions", "Upcoming sessions of the tracked blended modules."),
    Step("/lms remind at 8:30", "Reminder preferences."),
    Step("/lms results", "Learners cannot see others' results: refused before anything reaches the LMS."),
    Step("/lms edit-module security-1", "Only admins and trainers may edit modules."),
    Step("/lms progres", "A typo gets a short help, not an error."),
    Step("as edsger", ""),
    Step("/lms progress security-2", "Edsger has not finished module 1, so module 2 is locked, and says why."),
    Step("as grace", "Grace is a workspace owner (an admin)."),
    Step("/lms status", "Connections, tracked modules, the LMS request budget left."),
    Step(
        "/lms edit-module security-1",
        "The module-edit modal, prefilled from Zoho; submitting becomes the Update Modules PATCH.",
        {"name": "Phishing basics (2026 edition)", "duration (minutes)": "40", "lock type": "0"},
    ),
    Step("/lms untrack", "Tracked modules, with Untrack buttons."),
    Step("as margaret", "Margaret is a manager."),
    Step("/lms results overdue", "iSpring module results: who is overdue."),
    Step("as ada", ""),
    Step("home", "Ada's Home tab: pending items, locked modules, sessions, reminder controls."),
    Step("remind", "A reminder sweep, as if it were Ada's send time: one digest DM with everything due."),
    Step("click reminder_snooze_1d", "Snooze for a day: the message updates in place."),
    Step("remind", "A second sweep the same day sends nothing new."),
    Step(
        "lms complete ada Welcome to the Company",
        "In the LMS sandbox (its admin API), Ada completes her iSpring module: iSpring's signed webhook reaches"
        " the bot, which ticks this morning's digest off in place at once.",
    ),
)


class Console:
    def __init__(
        self,
        stack: DevStack,
        *,
        out: TextIO = sys.stdout,
        style: Style = PLAIN,
        ask: Ask | None = None,
        user: str = "U0ADA",
    ) -> None:
        self.stack = stack
        self.out = out
        self.style = style
        self.ask = ask
        self.user = user
        self._seen = len(stack.slack.calls)
        self._last_surface: Json | None = None

    @property
    def user_name(self) -> str:
        user = self.stack.slack.workspace.users.get(self.user)
        return user.name if user else self.user

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    async def run_line(self, line: str, answers: dict[str, str] | None = None) -> bool:
        """Handle one line; False means quit."""
        line = line.strip()
        if not line:
            return True
        word, _, rest = line.partition(" ")
        if word in ("quit", "exit"):
            return False
        if word == "help":
            self.say(SHELL_HELP)
        elif word == "users":
            for user in self.stack.slack.workspace.users.values():
                if not user.is_bot and user.id != "USLACKBOT":
                    self.say(f"  {user.name:<10} {user.id:<12} {user.real_name} ({user.tz}) {user.title}")
        elif word == "as":
            self._switch(rest.strip())
        elif word == "home":
            await self._driver().app_home_opened(self.user)
            await self._show_new_calls()
        elif word == "click":
            await self._click(rest, answers)
        elif word == "remind":
            await self._remind(everyone=rest.strip() == "all")
        elif word == "lms":
            await self._lms(rest)
        elif line.startswith("/"):
            command, _, text = line.partition(" ")
            await self._driver().command(self.user, text, command=command)
            await self._show_new_calls(answers)
        else:
            self.say(f"Unknown input `{word}`. Type `help`.")
        return True

    def _driver(self) -> Any:
        assert self.stack.driver is not None
        return self.stack.driver

    def _switch(self, name: str) -> None:
        workspace = self.stack.slack.workspace
        user = workspace.user_by_name(name) or workspace.users.get(name)
        if user is None:
            self.say(f"No demo user `{name}`. Type `users`.")
            return
        self.user = user.id
        self.say(f"(now acting as @{user.name}, {user.real_name}{', ' + user.title if user.title else ''})")

    async def _show_new_calls(self, answers: dict[str, str] | None = None, settle: float = 0.4) -> None:
        """Wait until the bot has gone quiet, render what it did, then fill in any modal it opened."""
        calls = await self._quiet_calls(settle)
        for call in calls:
            if call.method in ("auth.test", "users.info", "users.list", "conversations.open"):
                continue  # plumbing, not something a person sees
            self.say(render_call(call, self.stack.slack.workspace, self.style))
            if call.method == "response_url" or call.method.startswith("chat."):
                self._last_surface = self._posted(call)
        modal = self.stack.slack.top_modal(self.user)
        if modal is None:
            return
        if modal.get("submit") and any(_inputs(modal)):
            self._last_surface = modal
            await self._fill_modal(modal, answers)
        elif any(el.get("action_id") for _, el in iter_elements(list(modal.get("blocks") or []))):
            self._last_surface = modal  # a picker: its select is the next thing to click
        else:
            # A notice ("Module updated"): read it and close it, as a person would, so replies behind it
            # are what `click` acts on next.
            self.stack.slack.close_view(self.user, str(modal.get("id")), all_views=True)

    def _posted(self, call: Any) -> Json | None:
        """The message as Slack now shows it (with its ts and channel), so its buttons can be clicked."""
        slack = self.stack.slack
        if call.method == "response_url":
            mine = slack.ephemerals(self.user) or slack.dm_messages(self.user)
        else:
            mine = slack.dm_messages(self.user)
        return dict(mine[-1]) if mine else None

    async def _quiet_calls(self, settle: float, limit: float = 20.0) -> list[Any]:
        """The calls since the last look, once the bot has been quiet for `settle` s (or did nothing for 3 s)."""
        start = time.monotonic()
        last_count, last_change = len(self.stack.slack.calls), start
        while time.monotonic() - start < limit:
            await asyncio.sleep(0.05)
            now, count = time.monotonic(), len(self.stack.slack.calls)
            if count != last_count:
                last_count, last_change = count, now
                continue
            answered = count > self._seen and now - last_change >= settle
            silent = count == self._seen and now - start > 3.0
            if answered or silent:
                break
        calls = self.stack.slack.calls[self._seen :]
        self._seen += len(calls)
        return list(calls)

    async def _fill_modal(self, modal: Json, answers: dict[str, str] | None, attempt: int = 1) -> None:
        if self.ask is not None and answers is None:
            self.say(self.style.dim("  (Enter keeps [the value shown]; type - to clear a field; Ctrl-C cancels)"))
        values: dict[str, dict[str, Any]] = {}
        for block_id, label, element in _inputs(modal):
            initial = _initial(element)
            if answers is not None:
                raw = answers.get(label.lower(), initial or "")
            elif self.ask is not None:
                try:
                    typed = await asyncio.to_thread(self.ask, f"  {label}{_choices(element)} [{initial or ''}]: ")
                except (EOFError, KeyboardInterrupt):
                    self.say("  (cancelled: nothing was submitted)")
                    return
                raw = "" if typed.strip() == "-" else (typed or (initial or ""))
            else:
                raw = initial or ""
            values.setdefault(block_id, {})[str(element["action_id"])] = raw or None
        if answers is not None:
            shown = ", ".join(f"{k} = {v!r}" for k, v in answers.items())
            self.say(self.style.dim(f"  (filling in: {shown})"))
        await self._driver().view_submission(self.user, modal, values)
        errors = self.stack.slack.view_errors.get(str(modal.get("id")))
        if errors:  # refused inline, as Slack shows it: the form stays open with the messages under the fields
            self.say(render_view(modal, self.stack.slack.workspace, self.style, errors))
            if self.ask is not None and answers is None and attempt < 5:
                await self._fill_modal(modal, None, attempt + 1)
            return
        await self._show_new_calls()

    async def _click(self, rest: str, answers: dict[str, str] | None) -> None:
        parts = shlex.split(rest)
        if not parts:
            self.say("click what? e.g. `click reminder_snooze_1d`")
            return
        action, value = parts[0], (parts[1] if len(parts) > 1 else None)
        surface = self._last_surface or {}
        is_view = surface.get("type") in ("modal", "home")
        home = self.stack.slack.home(self.user)
        if not _has_action(surface, action) and home and _has_action(home, action):
            surface, is_view = home, True
        try:
            await self._driver().block_action(
                self.user, action, value, view=surface if is_view else None, message=None if is_view else surface
            )
        except (KeyError, LookupError, ValueError) as exc:
            self.say(f"No button `{action}` in the last reply ({exc}).")
            return
        await self._show_new_calls(answers)

    async def _lms(self, rest: str) -> None:
        """The sandbox's admin API (`/_sandbox/...`), then whatever the bot did about it (a tick-off in place)."""
        try:
            parts = shlex.split(rest)
        except ValueError as exc:
            self.say(f"Could not read that: {exc}")
            return
        action, args = (parts[0], parts[1:]) if parts else ("", [])
        if action == "sessions":
            self._sessions()
            return
        request = _admin_request(action, args)
        if request is None:
            self.say("Usage: " + " | ".join(ADMIN_USAGE.values()))
            return
        path, body = request
        async with httpx.AsyncClient(base_url=self.stack.sandbox.url, timeout=10.0) as client:
            reply = await client.post(path, json=body)
        answer = reply.json()
        if reply.status_code != 200:
            self.say(f"The sandbox refused: {answer.get('error', reply.text)}")
            return
        self.say(self.style.dim(f"(sandbox: {_admin_summary(action, answer)})"))
        if action == "complete" and answer.get("lms") == "zoho":
            self.say(
                self.style.dim(
                    "(Zoho sends no webhooks: the bot ticks it off when it next reads this learner's progress —"
                    " their `/lms progress` a minute on, or a sweep ten minutes on)"
                )
            )
        await self._show_new_calls(settle=0.6)

    def _sessions(self) -> None:
        state = self.stack.sandbox.state
        with state.lock:
            for session in sorted(state.sessions.values(), key=lambda x: (x.day, x.start)):
                self.say(
                    f"  {session.session_id}  {session.day} {session.start:%H:%M}–{session.end:%H:%M}"
                    f"  {session.name} (module {session.module_id}, batch {session.batch_id})"
                )

    async def _remind(self, *, everyone: bool) -> None:
        """One sweep (for the current user, or `all`); shows the summary and what the current user received."""
        assert self.stack.settings is not None
        report = await sweep_now(self.stack.settings, user=None if everyone else self.user)
        self.say(self.style.dim(str(report).splitlines()[-1] if str(report) else "(nothing due)"))
        calls = await self._quiet_calls(0.4)
        mine = {self.user, self.stack.slack.workspace.dm_channel(self.user)}
        shown = [c for c in calls if c.method.startswith("chat.") and str(c.args.get("channel")) in mine]
        for call in shown:
            self.say(render_call(call, self.stack.slack.workspace, self.style))
        others = sum(1 for c in calls if c.method.startswith("chat.")) - len(shown)
        if others:
            self.say(self.style.dim(f"(and {others} message(s) to other people)"))
        if shown:
            dms = self.stack.slack.dm_messages(self.user)
            self._last_surface = dms[-1] if dms else None  # the message as posted (with its ts), for clicks


ADMIN_USAGE = {
    "complete": "lms complete <learner> <item>",
    "move-session": "lms move-session <id> <YYYY-MM-DD> <HH:MM> [<HH:MM>]",
    "add-learner": "lms add-learner <name> <e-mail> [<course id> [<batch id>]]",
}


def _admin_request(action: str, args: list[str]) -> tuple[str, Json] | None:
    """The sandbox admin API call for a shell line; None when the line does not fit its usage."""
    if action == "complete" and len(args) >= 2:
        return "/_sandbox/complete", {"learner": args[0], "item": " ".join(args[1:])}
    if action == "move-session" and len(args) in (3, 4) and args[0].isdigit():
        body: Json = {"day": args[1], "start": args[2]}
        if len(args) == 4:
            body["end"] = args[3]
        return f"/_sandbox/sessions/{args[0]}/move", body
    if action == "add-learner" and 2 <= len(args) <= 4:
        body = {"name": args[0], "email": args[1]}
        if len(args) >= 3:
            body["course_id"] = args[2]
        if len(args) == 4:
            body["batch_id"] = args[3]
        return "/_sandbox/learners", body
    return None


def _admin_summary(action: str, answer: Json) -> str:
    if action == "complete":
        sent = len(answer.get("webhooks") or [])
        hooks = f"; {sent} iSpring webhook(s) sent" if sent else ""
        return f"completed {answer.get('lms')} item {answer.get('item')} for learner {answer.get('learner')}{hooks}"
    if action == "move-session":
        return f"session {answer.get('session')} now {answer.get('day')} {answer.get('start')}–{answer.get('end')}"
    return f"added learner {answer.get('name')} <{answer.get('email')}>, id {answer.get('learner_id')}"


def _has_action(surface: Json, action: str) -> bool:
    return any(el.get("action_id") == action for _, el in iter_elements(list(surface.get("blocks") or [])))


def _inputs(view: Json) -> list[tuple[str, str, Json]]:
    out = []
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            out.append((str(block.get("block_id")), str((block.get("label") or {}).get("text", "")), block["element"]))
    return out


def _initial(element: Json) -> str | None:
    for key in ("initial_value", "initial_date", "initial_time"):
        if element.get(key):
            return str(element[key])
    option = element.get("initial_option")
    if isinstance(option, dict):
        return str(option.get("value"))
    return None


def _choices(element: Json) -> str:
    options = element.get("options") or []
    if not options:
        return ""
    listed = ", ".join(f"{o.get('value')}={(o.get('text') or {}).get('text')}" for o in options)
    return f" ({listed})"


async def play_tour(console: Console, steps: Sequence[Step] = TOUR) -> None:
    for step in steps:
        console.say()
        if step.note:
            console.say(console.style.dim(f"# {step.note}"))
        console.say(console.style.bold(f"@{console.user_name}> {step.line}"))
        await console.run_line(step.line, step.answers or None)


async def interactive(console: Console, read: Callable[[str], str] = input) -> None:
    console.say(SHELL_HELP)
    while True:
        try:
            line = await asyncio.to_thread(read, f"@{console.user_name}> ")
        except (EOFError, KeyboardInterrupt):
            console.say()
            return
        if not await console.run_line(line):
            return
