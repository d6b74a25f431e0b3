"""Service requests: what a customer reported, by which channel (R-REP-1, R-CON-1)."""
