"""The product owner's KPIs: the health of the feedback loop and the quality of the models over time."""
