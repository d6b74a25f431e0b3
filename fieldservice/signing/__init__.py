"""Customer signing links: a single-use, expiring `/sign/<token>` page for one record version."""
