"""Shared settings for the data-channel tests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Small enough for a 2-core CI machine to run the whole folder in a few seconds; no
# deadline, since a loaded machine makes timings of pure functions meaningless. The
# repository's autouse `_hermetic` fixture is function-scoped but touches nothing these
# examples use, so sharing it across examples is fine.
QUICK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SIMULATION = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
