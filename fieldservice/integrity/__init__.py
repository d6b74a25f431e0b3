"""Tamper evidence for the archive (R-SIG-3, R-ARC-2): hash chains keyed with a secret outside the database,
anchors of the chain heads written outside the database, and `flask verify-archive` (docs/security.md)."""
