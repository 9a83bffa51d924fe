"""Linking replies: what `/lms link` did in each LMS and the next step for the rest; the "ask the admins" DM;
`/lms unlink`'s confirmation and its outcome (which replaces the confirmation in place)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.services.links import LinkAttempt, LinkResult, provider_name
from bot.services.slack_gateway import SlackUser
from bot.services.types import Provider
from handlers.views import kit
from handlers.views.formatting import DONE, WARNING, esc, plural, slack_time
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block
from handlers.views.problems import problem_text

LINK_ASK_ADMINS_ACTION = "link_ask_admins"  # value: the providers still to link, e.g. "zoho"
UNLINK_CONFIRM_ACTION = "unlink_confirm"  # value: "<Slack user>:<provider or 'all'>"
UNLINK_CANCEL_ACTION = "unlink_cancel"
_SHORT = {Provider.ZOHO: "Zoho", Provider.ISPRING: "iSpring"}


def _attempt_line(attempt: LinkAttempt) -> str:
    lms = provider_name(attempt.provider)
    result = attempt.result
    if result is not None and result.replaced is not None:
        return (
            f"{DONE} *{lms}*: now linked to {lms} learner `{esc(result.link.learner_id)}` "
            f"(was `{esc(result.replaced.learner_id)}`)."
        )
    if result is not None and result.changed:
        return f"{DONE} *{lms}*: now linked to {lms} learner `{esc(result.link.learner_id)}`."
    if result is not None:
        return f"{DONE} *{lms}*: already linked to {lms} learner `{esc(result.link.learner_id)}`."
    if attempt.kept is not None:
        return f"{DONE} *{lms}*: linked to learner `{esc(attempt.kept.learner_id)}` (unchanged)."
    why = f"{esc(problem_text(attempt.problem).rstrip('.'))}. " if attempt.problem else ""
    return f"{WARNING} *{lms}*: not linked. {why}{_next_step(attempt.provider)}"


def _next_step(provider: Provider) -> str:
    if provider is Provider.ZOHO:
        return (
            "Next step: an admin links you with `/lms link @you &lt;Zoho learner id&gt;` "
            "(or a CSV import) — the button below asks them."
        )
    return (
        "Next step: link yourself with the e-mail iSpring has for you, or an admin links you "
        "with `/lms link @you &lt;iSpring learner id&gt;` — the button below asks them."
    )


def link_reply(attempts: Sequence[LinkAttempt]) -> SlackMessage:
    """Per LMS: linked now / already / unchanged, or not linked with the next step (and one "ask" button)."""
    linked = [_SHORT[a.provider] for a in attempts if a.linked is not None]
    missing = [a.provider for a in attempts if a.linked is None]
    if linked and missing:
        headline = f"Linked to {' and '.join(linked)}; {' and '.join(_SHORT[p] for p in missing)} still needs a step."
    elif linked:
        headline = f"Linked to {' and '.join(linked)}."
    else:
        headline = "Not linked yet."
    blocks: list[Block] = [kit.section(f"*{headline}*\n" + "\n".join(_attempt_line(a) for a in attempts))]
    if missing:
        value = ",".join(str(p) for p in missing)
        blocks.append(
            kit.actions([kit.button("Ask an admin to link me", LINK_ASK_ADMINS_ACTION, value=value, style="primary")])
        )
    if linked:
        blocks.append(kit.context("`/lms progress` shows your modules; `/lms unlink zoho|ispring` undoes a link."))
    return kit.message(headline, blocks)


def link_request_dm(requester: str, handle: str, email: str | None, providers: Sequence[Provider]) -> SlackMessage:
    """What each admin receives: who asks, for which LMS, and the command that links them."""
    names = " and ".join(provider_name(p) for p in providers)
    mail = f" (Slack e-mail {esc(email)})" if email else ""
    commands = "\n".join(f"`/lms link @{esc(handle)} &lt;{_SHORT[p]} learner id&gt;`" for p in providers)
    text = f"<@{requester}>{mail} asks to be linked to their {names} learner record."
    blocks: list[Block] = [
        kit.section(f":wave: {text}\nRun:\n{commands}"),
        kit.context("Many people at once: `lmsbot link --csv FILE` imports a CSV. They asked through `/lms link`."),
    ]
    return kit.message(text, blocks)


def link_request_sent(admins: int, providers: Sequence[Provider]) -> SlackMessage:
    names = " and ".join(provider_name(p) for p in providers)
    text = (
        f":incoming_envelope: Asked {plural(admins, 'admin')} to link you to {names}. "
        "You will see your modules in `/lms progress` once they have."
    )
    return kit.message(text, [kit.section(text)])


def link_request_refused(earlier: datetime | None) -> SlackMessage:
    """Already asked today (the button cannot spam the admins), or nobody to ask."""
    if earlier is None:
        text = f"{WARNING} This workspace has no admin the bot can ask: ask your Slack admin in person."
    else:
        text = (
            f"You already asked the admins {slack_time(earlier, '{date_short_pretty} at {time}')}; "
            "they have your request. You can ask again tomorrow."
        )
    return kit.message(text, [kit.section(text)])


def unlink_confirm(target: str, links: Sequence[tuple[Provider, str]], *, own: bool, scope: str) -> SlackMessage:
    """ "Unlink you from Zoho People learner `…`?" with [Unlink Zoho] [Cancel]; nothing changes before the click."""
    who = "you" if own else f"<@{target}>"
    what = " and ".join(f"{provider_name(p)} learner `{esc(learner)}`" for p, learner in links)
    text = f"Unlink {who} from {what}?"
    label = f"Unlink {_SHORT[links[0][0]]}" if len(links) == 1 else "Unlink both"
    after = "You can link again any time with `/lms link`." if own else "They can be linked again any time."
    blocks: list[Block] = [
        kit.section(f"{text}\n{after}"),
        kit.actions(
            [
                kit.button(label, UNLINK_CONFIRM_ACTION, value=f"{target}:{scope}", style="danger"),
                kit.button("Cancel", UNLINK_CANCEL_ACTION),
            ]
        ),
    ]
    return kit.message(text, blocks)


def unlink_done(target: str, removed: Sequence[tuple[Provider, str]], *, own: bool) -> SlackMessage:
    who = "You were" if own else f"<@{target}> was"
    if removed:
        what = ", ".join(f"{provider_name(p)} learner `{esc(learner)}`" for p, learner in removed)
        text = f"{DONE} {who} unlinked from {what}."
    else:
        text = f"{who} not linked there any more; nothing changed."
    return kit.message(text, [kit.section(text)])


def not_linked_message(target: str, provider: Provider | None, *, own: bool) -> SlackMessage:
    who = "You are" if own else f"<@{target}> is"
    where = provider_name(provider) if provider is not None else "any LMS"
    text = f"{who} not linked to {where}; nothing changed."
    return kit.message(text, [kit.section(text)])


def unlink_cancelled() -> SlackMessage:
    text = "Cancelled: nothing was unlinked."
    return kit.message(text, [kit.section(text)])


def link_yourself_message(missing: list[Provider]) -> SlackMessage:
    """An admin asked the admins to link them: they can do it themselves."""
    text = "You are an admin: link yourself with " + ", ".join(
        f"`/lms link @you &lt;{provider_name(p)} learner id&gt;`" for p in missing
    )
    return kit.message(text + ".", [kit.section(text + ".")])


def already_linked_message() -> SlackMessage:
    text = "You are linked already: nothing to ask. `/lms progress` shows your modules."
    return kit.message(text, [kit.section(text)])


def linked_other_message(target: str, result: LinkResult) -> SlackMessage:
    """An admin's `/lms link @someone <learner>`: who is linked to what now (and what it replaced)."""
    who = f"<@{target}> is"
    lms = provider_name(result.link.provider)
    if not result.changed:
        text = f":white_check_mark: {who} already linked to {lms} learner `{result.link.learner_id}`."
    elif result.replaced:
        text = (
            f":white_check_mark: {who} now linked to {lms} learner `{result.link.learner_id}` "
            f"(was `{result.replaced.learner_id}`)."
        )
    else:
        text = f":white_check_mark: {who} now linked to {lms} learner `{result.link.learner_id}`."
    return kit.message(text, [kit.section(text)])


def link_report_message(
    unmatched: Sequence[SlackUser], *, linked: int | None = None, skipped: Sequence[str] = ()
) -> SlackMessage:
    """`/lms link auto` (`linked` members linked by e-mail, `skipped` notes) and `/lms link unmatched`."""
    lines = [] if linked is None else [f":link: Linked {linked} member(s) by their Slack e-mail."]
    lines += [f"• {note}" for note in skipped]
    names = ", ".join(f"<@{p.id}>" for p in unmatched[:40])
    more = f" …and {len(unmatched) - 40} more" if len(unmatched) > 40 else ""
    lines.append(f"{len(unmatched)} member(s) are not linked yet" + (f": {names}{more}" if unmatched else "."))
    text = "\n".join(lines)
    return kit.message(text, [kit.section(text)])
