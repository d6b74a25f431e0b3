"""Users, roles, bearer tokens and the per-endpoint role declarations."""
