"""Moderation: the final human labels, the borderline queue, retraining the classifier."""
