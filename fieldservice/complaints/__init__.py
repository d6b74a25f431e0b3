"""Complaints (R-CMP-1): log, owner, deadlines, investigation, resolution, feedback to the customer."""
