"""The audit report: agreement between reviewers, audit-sample pass rates and flag triage counts."""
