"""Hypothesis profiles for the property-based tests of the inbound endpoints (``test_fuzz.py``).

``ci`` (the default): few examples, derandomized, so ``make test`` and CI stay short and repeatable.
``fuzz``: many random examples, for ``make fuzz`` (``HYPOTHESIS_PROFILE=fuzz``); a failure prints the
example and a ``@reproduce_failure`` line to replay it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_INPUTS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=_SLOW_INPUTS
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    deadline=None,
    database=None,
    suppress_health_check=_SLOW_INPUTS,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
