"""Console: dashboard (being written)."""
