"""Shared pieces of the server-rendered office pages (login check for page views)."""
