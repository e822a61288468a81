"""Console: emails (being written)."""
