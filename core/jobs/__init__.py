"""Background jobs and the worker: the loop's steps that start themselves (retraining the moderation classifier,
training a reward model, scoring new answers), run by `python -m core worker`.

The jobs are rows of the store's `job` table (core.store.models.Job), not a job library's: the same table and the same
claim work on SQLite (BEGIN IMMEDIATE) and PostgreSQL (FOR UPDATE SKIP LOCKED), the pages read them with the rest of
the store, and a backup holds them."""


class JobError(Exception):
    """A job setting or a worker option was refused; the message says why and what is allowed."""


class AlertError(JobError):
    """An alert threshold or the webhook's settings were refused; the message says why and what is allowed."""
