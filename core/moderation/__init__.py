"""Moderation: the final human labels, the borderline and adjudication queues, labelling, retraining the classifier."""


class ModerationError(Exception):
    """A moderation action (settings, embedding, retraining) was refused; the message says why and what to do."""
