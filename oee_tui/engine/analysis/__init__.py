"""Analysis over history: reports, the shift review, day summaries and planning."""
