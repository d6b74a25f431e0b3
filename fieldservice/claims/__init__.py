"""Carrier damage claims (R-INS-2)."""
