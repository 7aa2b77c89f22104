"""The one place that picks the database's own INSERT ... ON CONFLICT (an upsert, or an insert that two
requests may race to make): SQLite and PostgreSQL spell it alike, each in its own dialect module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert(session: Session, model: type[Any]) -> sqlite.Insert:
    """An INSERT with ``on_conflict_do_nothing`` and ``on_conflict_do_update``, in the bound database's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)  # type: ignore[return-value]  # the same on_conflict methods
    return sqlite.insert(model)
