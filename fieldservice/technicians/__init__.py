"""Technician profiles and their certifications (上岗证, R-TEC-1)."""
