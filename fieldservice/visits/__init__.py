"""Visits (a technician on site in a time window) and their work logs."""
