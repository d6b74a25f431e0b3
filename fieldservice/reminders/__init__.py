"""Visit-confirmation reminders (R-MNT-2, R-REP-2): visits not yet confirmed with the customer shortly before
they are due are flagged for the dispatcher."""
