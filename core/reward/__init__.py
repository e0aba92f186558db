"""Reward models from expert preferences: export pairs to a dataset snapshot, train with TRL's RewardTrainer,
evaluate on held-out prompts, register runs, score every answer.

Heavy libraries (torch, transformers, trl, datasets) are imported inside the functions that need them, so the app
and the CLI start fast."""


class RewardError(Exception):
    """A reward-model action was refused or failed in a way a person can fix; the message says what to do."""
