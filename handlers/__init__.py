"""Slack listeners. Each module registers the listeners of one concern; `register` wires them all.

Handlers call services and render views; they never touch storage or the LMS clients directly. What a listener
raises is answered by the one error boundary (`handlers.errors`): listeners catch only what they answer
differently.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.container import Services


def register(app: AsyncApp, services: Services) -> None:
    from handlers import commands, errors, home, inbound, lifecycle, linking, modals, reminder_actions, results_actions

    errors.install(app)
    inbound.register(app, services)  # global middleware: the configured workspace only, each event once
    commands.register(app, services)
    modals.register(app, services)
    home.register(app, services)
    reminder_actions.register(app, services)
    results_actions.register(app, services)
    linking.register(app, services)
    lifecycle.register(app, services)
