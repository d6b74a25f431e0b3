"""Offline sync for technicians' phones, compatible with WatermelonDB's `synchronize()`."""
