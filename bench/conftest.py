"""Benchmarks share the tests' fixtures (a catalogue built once, the DTDs)."""

from tests.conftest import dtd_dir, dtds, shared_cxml, template_data_dir  # noqa: F401
