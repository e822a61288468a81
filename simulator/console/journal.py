"""Console: journal (being written)."""
