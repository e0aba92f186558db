"""A/B reports: two chatbot versions, two moderation classifiers, online experiments; verdicts, charts, exports."""
