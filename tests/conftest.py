"""The test suite's set-up: the fixture plugins in ``tests/fixtures/`` and the property tests' profile.

Under CI=true a missing PostgreSQL or Chromium fails the run instead of skipping it, so a green
CI means those tests really ran (``fixtures.missing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import werkzeug.test
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


@pytest.fixture(autouse=True, scope="session")
def _multipart_bodies_in_memory() -> Iterator[None]:
    """Keep the test client's multipart bodies in memory, not in an unclosed temporary file.

    Werkzeug's test client spools a body over 500 KB to a ``TemporaryFile`` it hands to the app
    as ``wsgi.input`` and never closes; whenever the garbage collector meets it, its
    ResourceWarning lands on whichever test is running and fails it (``filterwarnings = error``).
    The app's own request files are closed by the request (``kiosk.web.formdata``).
    """
    original = werkzeug.test.stream_encode_multipart

    def in_memory(data: Any, use_tempfile: bool = True, **kwargs: Any) -> Any:
        return original(data, use_tempfile=False, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(werkzeug.test, "stream_encode_multipart", in_memory)
        yield
