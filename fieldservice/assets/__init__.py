"""Installed units of equipment: the customer service archive is kept per asset."""
