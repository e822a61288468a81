"""Running the simulator inside a test suite (filled in by the QA control-plane work)."""
