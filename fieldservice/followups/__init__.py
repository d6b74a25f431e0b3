"""Follow-up calls after installation and repair (R-FUP-1)."""
