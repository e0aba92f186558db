"""The demo dataset: users of every role, a tax assistant's answers, moderation items and their judgments."""
