"""Services: what the bot does, independent of Slack. Handlers call these; these call LMS clients and storage."""
