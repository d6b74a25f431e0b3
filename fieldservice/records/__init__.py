"""Service records (installation sheet, repair record, maintenance record, work-order acceptance), the
customer's sign-offs bound to their canonical JSON, and the hash-chained archive log."""
