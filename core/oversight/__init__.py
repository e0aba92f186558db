"""Oversight: the audit trail, an item's history, the monthly audit sample and the triage of flagged answers."""
