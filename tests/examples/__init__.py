"""Runnable how-to tests: the PunchOut Simulator in a test suite (see README.md)."""
