"""`lmsbot shell` and the `make demo` tour: talk to the real bot as a chosen demo user, in a terminal.

Like errbot's text backend: `/lms progress` typed here goes through the real Bolt app as a signed HTTP request,
exactly as Slack sends it, and every Web API call the bot makes (messages, ephemeral replies, modals, the Home
tab) is rendered readably. Modals are filled in at a prompt.

Size (~600 lines, a dev tool): the tour's script (data) and the shell's line commands, one method each.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, TextIO

import httpx

from bot.devkit.devstack import DevStack
from bot.devkit.slackstub.driver import find_element, iter_elements
from bot.devkit.slackstub.render import PLAIN, Style, render_call, render_view
from bot.reminders_cli import sweep_now

Json = dict[str, Any]
Ask = Callable[[str], str]

SHELL_HELP = """\
Type a slash command as the current user, e.g. `/lms progress` or `/lms edit-module security-1`.
  as <name>            act as another demo user (ada, grace = admin, margaret = manager, alan = trainer, …)
  users                list the demo users
  home                 open the bot's Home tab
  click <action> [v]   click a button (by its action id, shown in brackets) in the last reply or modal
  pick <action> <opt>  choose an option (its value or the start of its label) in a menu of the last reply or modal
  remind [all] [--force]  run a reminder sweep now for you (or everyone), as if it were the send time; --force
                       also inside quiet hours, on days not chosen and for the managers' weekly digest (Mondays)
  lms complete <learner> <item>            act in the LMS sandbox: complete a Zoho item or an iSpring module
                                           for a learner (name, e-mail or id), e.g. lms complete ada Pre-reading
  lms sessions                             the sandbox's sessions, with their ids
  lms move-session <id or name> <YYYY-MM-DD|today|tomorrow> <HH:MM> [<HH:MM> end]   move a session
  lms add-learner <name> <e-mail> [<course id> [<batch id>]]  add a learner to the sandbox
  lms add-learners <count> <department>    add iSpring learners (with results) to a department, e.g. Engineering
  help                 this text;  quit  leaves"""


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the scripted tour, with answers for a modal it opens."""

    line: str
    note: str = ""
    answers: dict[str, str] = field(default_factory=dict)  # input label (lower case) -> what to type


TOUR: tuple[Step, ...] = (
    Step("/lms help", "Every subcommand, with examples."),
    Step(
        'lms move-session "Goal-setting workshop" tomorrow 10:00 12:00',
        "In the LMS sandbox (its admin API), the Kick-off workshop is planned again, for tomorrow.",
    ),
    Step("as margaret", "Margaret is a manager: she supervises Engineering in iSpring."),
    Step(
        "lms add-learners 8 Engineering",
        "In the LMS sandbox (its admin API), eight more people join Engineering in iSpring.",
    ),
    Step(
        "remind --force",
        "The managers' weekly digest (it goes out on Mondays; --force sends it now, as `lmsbot remind --now"
        " --force` does): who in her team is overdue, by name, with a Nudge them button.",
    ),
    Step("click manager_nudge", "One friendly DM to each overdue learner in her team (once a week)."),
    Step(
        "/lms results",
        "Margaret's team only, as people (Slack names, else the LMS's own), failed shown as ❌; 40 a page.",
    ),
    Step("click results_next", "The next page, in place of the first (no dead end '…and 15 more')."),
    Step("click results_csv", "The whole filtered list as a CSV file, in her DM with the bot."),
    Step("as ada", ""),
    Step(
        "/lms progress",
        "Ada's progress in every tracked module. A session that has ended is never a to-do: the one she missed is"
        " ⚠, told apart with what to do; one later today says 'today at …'. Times are Slack date tokens: the"
        " console shows them as Slack does, in the reader's own zone (Ada: London).",
    ),
    Step("/lms progress kickoff", "One module by its alias; answered from the cache this time."),
    Step("/lms plans", "Learning plans."),
    Step("/lms sessions", "Sessions of the tracked blended modules: past ones as Ada attended or missed them."),
    Step("/lms remind at 8:30", "Reminder preferences."),
    Step("/lms results", "Learners cannot see others' results: refused before anything reaches the LMS."),
    Step("/lms edit-module security-1", "Only admins and trainers may edit modules."),
    Step("/lms progres", "A typo gets a short help, not an error."),
    Step("as edsger", ""),
    Step("/lms progress security-2", "Edsger has not finished module 1, so module 2 is locked, and says why."),
    Step("as grace", "Grace is a workspace owner (an admin), in New York."),
    Step(
        "/lms sessions kickoff",
        "The same workshop as Grace reads it: her own time (New York), from the same date token Ada read.",
    ),
    Step("/lms status", "Connections, tracked modules, the LMS request budget left."),
    Step(
        "/lms edit-module security-1",
        "The module-edit modal, prefilled from Zoho; submitting becomes the Update Modules PATCH.",
        {"name": "Phishing basics (2026 edition)", "duration (minutes)": "40", "lock type": "0"},
    ),
    Step("/lms untrack", "Tracked modules, with Untrack buttons."),
    Step("as ada", ""),
    Step("home", "Ada's Home tab: pending items, locked modules, sessions, reminder controls."),
    Step(
        "remind",
        "A reminder sweep, as if it were Ada's send time: one digest DM with everything due — tomorrow's workshop"
        " reminder is in it, not a DM of its own (one message, not three); the session she missed is told once,"
        " apart.",
    ),
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
        elif word == "pick":
            await self._pick(rest, answers)
        elif word == "remind":
            words = rest.split()
            await self._remind(everyone="all" in words, force="--force" in words)
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

    async def _show_new_calls(self, answers: dict[str, str] | None = None) -> None:
        """Wait until the bot has finished with what it was sent, render what it did, then fill in any modal
        it opened."""
        calls = await self._new_calls()
        for call in calls:
            if call.method in (
                "auth.test",
                "users.info",
                "users.list",
                "conversations.open",
                "files.getUploadURLExternal",
            ):
                continue  # plumbing, not something a person sees
            self.say(render_call(call, self.stack.slack.workspace, self._style_for(call)))
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

    def _style_for(self, call: Any) -> Style:
        """Times as the reader of this call sees them in Slack: date tokens in their own zone (a DM's recipient,
        a Home tab's owner, else the current user)."""
        workspace = self.stack.slack.workspace
        args = call.args if call is not None else {}
        channel = str((call.response or {}).get("channel") or args.get("channel") or "") if call is not None else ""
        reader = workspace.dm_user(channel) or str(args.get("user_id") or "") or self.user
        user = workspace.users.get(reader) or workspace.users.get(self.user)
        return replace(self.style, zone=user.tz) if user is not None and user.tz else self.style

    def _posted(self, call: Any) -> Json | None:
        """The message as Slack now shows it (with its ts and channel), so its buttons can be clicked."""
        slack = self.stack.slack
        if call.method == "response_url":
            mine = slack.ephemerals(self.user) or slack.dm_messages(self.user)
        else:
            mine = slack.dm_messages(self.user)
        return dict(mine[-1]) if mine else None

    async def _new_calls(self, limit: float = 20.0) -> list[Any]:
        """The calls since the last look, once the bot has finished handling every request it was sent (and
        the listeners those started): the real signal, not a quiet spell."""
        if not await self.stack.work.wait_idle(limit):
            self.say(self.style.dim(f"(the bot is still busy after {limit:.0f} s; showing what it did so far)"))
        calls = self.stack.slack.calls[self._seen :]
        self._seen += len(calls)
        return list(calls)

    async def _fill_modal(
        self, modal: Json, answers: dict[str, str] | None, attempt: int = 1, typed: dict[str, str] | None = None
    ) -> None:
        """Ask for each input (or take `answers`), then submit. Choosing in a menu that reloads the form (the
        track modal's LMS, course and batch) is sent as that choice first, and the form re-read; what was
        typed so far is kept. Ctrl-C (or end of input) cancels: the modal is closed, nothing is submitted."""
        if self.ask is not None and answers is None and attempt == 1 and typed is None:
            self.say(self.style.dim("  (Enter keeps [the value shown]; type - to clear a field; Ctrl-C cancels)"))
        typed = dict(typed or {})
        values: dict[str, dict[str, Any]] = {}
        for block_id, label, element, dispatch in _inputs_dispatching(modal):
            initial = _initial(element)
            if label in typed:
                raw = typed[label]
            elif answers is not None:
                raw = answers.get(label.lower(), initial or "")
            elif self.ask is not None:
                try:
                    # In this thread, not a worker's: Ctrl-C then interrupts the prompt, not the event loop.
                    answer = self.ask(f"  {label}{_choices(element)} [{initial or ''}]: ")
                except (EOFError, KeyboardInterrupt):
                    await self._cancel_modal(modal)
                    return
                raw = "" if answer.strip() == "-" else (answer or (initial or ""))
            else:
                raw = initial or ""
            if raw and _is_menu(element) and (option := _match_option(_options(element), raw)) is not None:
                raw = str(option.get("value"))  # a label (or its start) picks its option, as a value does
            typed[label] = raw
            values.setdefault(block_id, {})[str(element["action_id"])] = raw or None
            if dispatch and raw and raw != (initial or "") and _is_menu(element):
                # Slack sends this choice at once (dispatch_action): the bot answers by updating the form.
                await self._driver().block_action(
                    self.user, str(element["action_id"]), raw, block_id=block_id, view=modal, values=values
                )
                await self._new_calls()
                updated = self.stack.slack.top_modal(self.user)
                if updated is None or updated.get("id") != modal.get("id"):
                    await self._show_new_calls()
                    return
                await self._fill_modal(updated, answers, attempt, typed)
                return
        if answers is not None:
            shown = ", ".join(f"{k} = {v!r}" for k, v in answers.items())
            self.say(self.style.dim(f"  (filling in: {shown})"))
        await self._driver().view_submission(self.user, modal, values)
        errors = self.stack.slack.view_errors.get(str(modal.get("id")))
        if errors:  # refused inline, as Slack shows it: the form stays open with the messages under the fields
            self.say(render_view(modal, self.stack.slack.workspace, self._style_for(None), errors))
            if self.ask is not None and answers is None and attempt < 5:
                await self._fill_modal(modal, None, attempt + 1)
            else:
                await self._cancel_modal(modal)
            return
        await self._show_new_calls()

    async def _cancel_modal(self, modal: Json) -> None:
        """As closing a modal in Slack: the view goes away (and the bot hears view_closed if it asked to)."""
        self.say("  (cancelled: the form is closed and nothing was submitted)")
        if modal.get("notify_on_close"):
            await self._driver().view_closed(self.user, modal, is_cleared=True)
        else:  # Slack sends view_closed only for notify_on_close
            self.stack.slack.close_view(self.user, str(modal.get("id")), all_views=True)
        await self._new_calls()
        self._last_surface = None

    async def _pick(self, rest: str, answers: dict[str, str] | None) -> None:
        """`pick <action> <option>`: a choice in a select menu (or radio buttons) of the last reply or modal."""
        try:
            parts = shlex.split(rest)
        except ValueError:
            parts = []
        if len(parts) < 2:
            self.say('pick what? e.g. `pick track_course_pick "Security"`: a menu\'s action id, then an option')
            return
        action, wanted = parts[0], " ".join(parts[1:])
        surface, is_view = self._surface_with(action)
        found = find_element(list(surface.get("blocks") or []), action) if surface else None
        if surface is None or found is None:
            self.say(f"No menu `{action}` in the last reply or modal.")
            return
        block_id, element = found
        options = _options(element)
        option = _match_option(options, wanted)
        if option is None:
            listed = ", ".join(f"{o.get('value')}={(o.get('text') or {}).get('text')}" for o in options) or "none"
            self.say(f"No option `{wanted}` in `{action}` (options: {listed}).")
            return
        value = str(option.get("value"))
        values = {block_id: {action: value}} if is_view and _is_input(surface, block_id) else None
        await self._driver().block_action(
            self.user,
            action,
            block_id=block_id,
            selected_option=value,
            view=surface if is_view else None,
            message=None if is_view else surface,
            values=values,
        )
        await self._show_new_calls(answers)

    def _surface_with(self, action: str) -> tuple[Json | None, bool]:
        """Where `action` is: the open modal, the last reply, or the Home tab (in that order)."""
        candidates: list[Json | None] = [self.stack.slack.top_modal(self.user), self._last_surface]
        candidates.append(self.stack.slack.home(self.user))
        for surface in candidates:
            if surface and _has_action(surface, action):
                return surface, surface.get("type") in ("modal", "home")
        return None, False

    async def _click(self, rest: str, answers: dict[str, str] | None) -> None:
        parts = shlex.split(rest)
        if not parts:
            self.say("click what? e.g. `click reminder_snooze_1d`")
            return
        action, value = parts[0], (parts[1] if len(parts) > 1 else None)
        surface = self._last_surface or {}
        if not _has_action(surface, action):
            # The open modal or Home, else the latest of your DMs with that button (a digest from earlier on).
            found, _ = self._surface_with(action)
            dms = reversed(self.stack.slack.dm_messages(self.user))
            found = found or next((dict(m) for m in dms if _has_action(m, action)), None)
            if found is None:
                self.say(f"No button `{action}` in the last reply, the open modal, Home or your DMs.")
                return
            surface = found
        is_view = surface.get("type") in ("modal", "home")
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
        if action == "move-session" and len(args) in (3, 4):
            args = self._session_args(args)
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
        await self._show_new_calls()  # the sandbox delivered its webhooks before answering: the bot is counting them

    def _session_args(self, args: list[str]) -> list[str]:
        """`move-session` also takes a session's name for its id and today/tomorrow for the day (in the sandbox's
        own calendar), so the tour and people need not look either up."""
        state = self.stack.sandbox.state
        if not args[0].isdigit():
            with state.lock:
                found = [s.session_id for s in state.sessions.values() if s.name.lower() == args[0].lower()]
            if found:
                args = [str(found[0]), *args[1:]]
        words = {"today": 0, "tomorrow": 1}
        if args[1].lower() in words:
            args = [args[0], (date.today() + timedelta(days=words[args[1].lower()])).isoformat(), *args[2:]]
        return args

    def _sessions(self) -> None:
        state = self.stack.sandbox.state
        with state.lock:
            for session in sorted(state.sessions.values(), key=lambda x: (x.day, x.start)):
                self.say(
                    f"  {session.session_id}  {session.day} {session.start:%H:%M}–{session.end:%H:%M}"
                    f"  {session.name} (module {session.module_id}, batch {session.batch_id})"
                )

    async def _remind(self, *, everyone: bool, force: bool = False) -> None:
        """One sweep (for the current user, or `all`); shows the summary and what the current user received."""
        assert self.stack.settings is not None
        report = await sweep_now(self.stack.settings, user=None if everyone else self.user, force=force)
        self.say(self.style.dim(str(report).splitlines()[-1] if str(report) else "(nothing due)"))
        calls = await self._new_calls()
        mine = {self.user, self.stack.slack.workspace.dm_channel(self.user)}
        shown = [c for c in calls if c.method.startswith("chat.") and str(c.args.get("channel")) in mine]
        for call in shown:
            self.say(render_call(call, self.stack.slack.workspace, self._style_for(call)))
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
    "add-learners": "lms add-learners <count> <department>",
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
    if action == "add-learners" and len(args) == 2 and args[0].isdigit():
        return "/_sandbox/ispring/learners", {"count": int(args[0]), "department": args[1]}
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
    if action == "add-learners":
        names = [str(u.get("name")) for u in answer.get("learners") or []]
        return f"added {len(names)} iSpring learners to {answer.get('department')}: {', '.join(names)}"
    return f"added learner {answer.get('name')} <{answer.get('email')}>, id {answer.get('learner_id')}"


def _has_action(surface: Json, action: str) -> bool:
    return any(el.get("action_id") == action for _, el in iter_elements(list(surface.get("blocks") or [])))


def _inputs_dispatching(view: Json) -> Iterator[tuple[str, str, Json, bool]]:
    """(block_id, label, element, dispatches) per input block: `dispatches` when a choice is sent at once."""
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            label = str((block.get("label") or {}).get("text", ""))
            yield str(block.get("block_id")), label, block["element"], bool(block.get("dispatch_action"))


def _is_menu(element: Json) -> bool:
    return element.get("type") in ("static_select", "radio_buttons", "external_select")


def _is_input(view: Json, block_id: str) -> bool:
    return any(b.get("block_id") == block_id and b.get("type") == "input" for b in view.get("blocks") or [])


def _options(element: Json) -> list[Json]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _match_option(options: list[Json], wanted: str) -> Json | None:
    """By value, else by label (exactly, then by its start, then anywhere in it; case does not matter)."""
    lowered = wanted.strip().lower()
    labels = [(o, str((o.get("text") or {}).get("text", "")).lower()) for o in options]
    for test in (
        lambda o, _l: str(o.get("value")) == wanted.strip(),
        lambda _o, label: label == lowered,
        lambda _o, label: label.startswith(lowered),
        lambda _o, label: lowered in label,
    ):
        found = [o for o, label in labels if test(o, label)]
        if found:
            return found[0]
    return None


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
            # Read in this thread (nothing else runs on this loop meanwhile): Ctrl-C interrupts the prompt.
            line = read(f"@{console.user_name}> ")
        except (EOFError, KeyboardInterrupt):
            console.say()
            return
        if not await console.run_line(line):
            return


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_interactive(console: Console, read: Callable[[str], str] = input) -> None:
    """The shell on its own event loop, with Ctrl-C raised where the person is typing.

    asyncio.run() would turn Ctrl-C into cancelling the whole shell; with this handler (which asyncio leaves
    alone, as it is not Python's default) a Ctrl-C at a modal's prompt cancels that modal only, and one at
    the shell's prompt leaves the shell.
    """
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        asyncio.run(interactive(console, read))
    finally:
        signal.signal(signal.SIGINT, previous)
