"""Maintenance plans (R-MNT-1/4): what to do to an asset and how often, and the visits generated from them."""
