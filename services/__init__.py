"""Domain operations and pure rules. Nothing in this package imports Flask."""
