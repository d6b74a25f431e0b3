"""Work orders and their state machine."""
