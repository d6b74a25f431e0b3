"""The customer service archive: per customer, asset and serial, with every read logged (R-ARC-1..3)."""
