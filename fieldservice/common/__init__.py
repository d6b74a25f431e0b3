"""Helpers shared by every domain package: pagination, schema bases."""
