"""Sales contracts: what was sold to whom, with serials, prices and dates (R-ARC-1)."""
