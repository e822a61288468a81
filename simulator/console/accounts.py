"""Console: accounts (being written)."""
