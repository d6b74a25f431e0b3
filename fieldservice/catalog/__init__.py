"""Product lines and product models."""
