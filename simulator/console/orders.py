"""Console: orders (being written)."""
