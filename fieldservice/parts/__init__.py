"""Parts and stock (R-PRT-1, R-REP-6) and defective part returns (R-REP-9)."""
