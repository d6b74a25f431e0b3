"""Repair commerce: warranty terms and decisions (R-RET-1/2, R-REP-8), price lists, quotes and the
customer's consent (R-REP-4, R-REP-8), chargeable work on visits, consultations and advisory notices (R-CON-1)."""
