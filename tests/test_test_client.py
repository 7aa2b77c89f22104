"""The test harness itself: a big upload leaves no open file behind to fail a later test."""

from __future__ import annotations

import gc
import io
import warnings

from flask import Flask


def test_a_big_multipart_post_leaves_no_unclosed_file(app: Flask) -> None:
    """CI failed once on a ResourceWarning from a spooled upload body collected mid-test."""
    client = app.test_client()
    big = io.BytesIO(b"\xff\xd8" + b"\0" * (700 * 1024))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.post("/", data={"file": (big, "photo.jpg")}, content_type="multipart/form-data")
        del client
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
