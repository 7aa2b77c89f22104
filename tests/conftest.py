"""The test suite's set-up: the fixture plugins in ``tests/fixtures/`` and the property tests' profile.

Under CI=true a missing PostgreSQL or Chromium fails the run instead of skipping it, so a green
CI means those tests really ran (``fixtures.missing``).
"""

from __future__ import annotations

from hypothesis import settings

pytest_plugins = [
    "fixtures.app",
    "fixtures.postgres",
    "fixtures.browser",
    "fixtures.sim",
    "fixtures.staff",
    "fixtures.ecp",
]

# Property tests must not fail on a slow CI machine for being slow: no per-example deadline
settings.register_profile("kiosk", deadline=None, print_blob=True)
settings.load_profile("kiosk")
