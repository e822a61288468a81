"""Scenarios: rules as data that change what the simulator answers (WireMock-style states)."""
