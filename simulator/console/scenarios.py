"""Console: scenarios (being written)."""
