"""Slack listeners. Each module registers the listeners of one concern with `register(app, …)`, given the few
services it uses; the composition root (`bot.app`) wires them all.

Handlers call services and render views; they never touch storage or the LMS clients directly. What a listener
raises is answered by the one error boundary (`handlers.errors`): listeners catch only what they answer
differently.
"""
