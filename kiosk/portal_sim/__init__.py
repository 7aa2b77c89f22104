"""The central system simulator: the peer the kiosk cannot reach from here, on its own port.

It implements contract/openapi.yaml (signed requests, phone look-up, SMS, applications with an
Idempotency-Key that holds for ever, the status feed and the listing for reconciliation), keeps
its own SQLite store, shows delivered SMS on a simulated phone page (/phone) and fails on demand
(see ``faults``). It is a separate Flask app, not the kiosk's ``create_app``: nothing of the
kiosk's state is shared, only code (signing, IINs, the database engine's settings, the clock).

Config (all in ``app.config``, overridable by the mapping given to ``create_sim_app``):
``SIM_KIOSK_KEYS`` {kiosk id: hex key}, ``SIM_CLOCK`` (a callable giving aware UTC),
``SIM_STEP_SECONDS``, ``SIM_SCHOOL_CAPACITY``, ``SIM_DATABASE_URL`` / ``SIM_INSTANCE_PATH``,
``SIM_CONTRACT_AT_START`` (read the contract now, or at the first API request) and the
fault settings ``SIM_LATENCY_MS``, ``SIM_ERROR_RATE``, ``SIM_ERROR_CODES``, ``SIM_RETRY_AFTER_S``,
``SIM_TIMEOUT_RATE``, ``SIM_TIMEOUT_SLEEP_S``, ``SIM_RESET_RATE``, ``SIM_DROP_AFTER_COMMIT_RATE``,
``SIM_DOWN_FOR_S``, ``SIM_FAULT_SEED``; for ЭЦҚ (``signatures``) ``SIM_ECP_CAS`` (test CAs it trusts
besides its own) and ``SIM_SIGN_TTL_S`` (how long an eGov Mobile signing session waits).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from kiosk import ROOT
from kiosk.clock import system_utcnow
from kiosk.db import make_engine
from kiosk.portal_sim import citizens
from kiosk.portal_sim.faults import FaultMiddleware, Faults, FaultState
from kiosk.portal_sim.models import Base, add_new_columns
from kiosk.portal_sim.problems import problem
from kiosk.portal_sim.signatures import SimEcp

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "SIM_KIOSK_KEYS": {},
    "SIM_CLOCK": None,
    "SIM_STEP_SECONDS": 20,
    "SIM_SCHOOL_CAPACITY": 3,
    "SIM_DATABASE_URL": None,
    "SIM_INSTANCE_PATH": None,
    "SIM_BUSY_TIMEOUT_MS": 5000,
    # a simulator of its own is ready to answer once made; the one inside `kiosk run` reads the
    # contract at its first API request, so the kiosk's own start does not wait for it
    "SIM_CONTRACT_AT_START": True,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "SIM_ECP_CAS": [],
    "SIM_SIGN_TTL_S": 300,
}


@dataclass
class Sim:
    """What the simulator's views share: the store, one writer at a time, the clock, the faults."""

    engine: Engine
    sessions: sessionmaker[Session]
    write_lock: threading.RLock
    clock: Callable[[], dt.datetime]
    keys: dict[str, bytes]
    faults: FaultState
    step: dt.timedelta
    capacity: int
    ecp: SimEcp
    sign_ttl: dt.timedelta

    def now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise RuntimeError("SIM_CLOCK must return an aware datetime")
        return now.astimezone(dt.UTC)


def sim() -> Sim:
    return current_app.extensions["portal_sim"]


def session() -> Session:
    """The request's session; the view that writes holds the write lock and commits."""
    if "sim_session" not in g:
        g.sim_session = sim().sessions()
    return g.sim_session


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("sim_session", None)
    if s is not None:
        s.close()


def _keys(configured: dict[str, Any]) -> dict[str, bytes]:
    out = {}
    for kiosk_id, key in configured.items():
        out[str(kiosk_id)] = key if isinstance(key, bytes) else bytes.fromhex(key)
    return out


def create_sim_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the simulator app with its own store (tables made if missing, citizens seeded)."""
    settings = {**DEFAULTS, **(config or {})}
    instance = settings["SIM_INSTANCE_PATH"] or tempfile.mkdtemp(prefix="portal-sim-")
    Path(instance).mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(Path(instance).resolve()),
        template_folder=str(ROOT / "templates"),
        static_folder=None,
    )
    app.config.from_mapping(settings)
    app.config["SIM_INSTANCE_PATH"] = app.instance_path
    url = app.config["SIM_DATABASE_URL"] or "sqlite:///" + str(Path(app.instance_path) / "portal_sim.sqlite3")
    app.config["SIM_DATABASE_URL"] = url

    engine = make_engine(url, app.config["SIM_BUSY_TIMEOUT_MS"])
    Base.metadata.create_all(engine)
    add_new_columns(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as s:
        citizens.seed(s)
        s.commit()

    clock = app.config["SIM_CLOCK"] or system_utcnow
    state = FaultState(clock=clock)
    state.set(Faults.from_config(app.config))
    app.extensions["portal_sim"] = Sim(
        engine=engine,
        sessions=sessions,
        write_lock=threading.RLock(),
        clock=clock,
        keys=_keys(app.config["SIM_KIOSK_KEYS"]),
        faults=state,
        step=dt.timedelta(seconds=float(app.config["SIM_STEP_SECONDS"])),
        capacity=int(app.config["SIM_SCHOOL_CAPACITY"]),
        ecp=SimEcp(Path(app.instance_path) / "ca", list(app.config["SIM_ECP_CAS"]), clock),
        sign_ttl=dt.timedelta(seconds=float(app.config["SIM_SIGN_TTL_S"])),
    )
    app.teardown_appcontext(_close_session)

    from kiosk.portal_sim import api, pages, validation  # they import session and sim from this module

    if app.config["SIM_CONTRACT_AT_START"]:
        validation.contract()
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)

    @app.errorhandler(HTTPException)
    def _http_problem(exc: HTTPException) -> Response:
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return problem(exc.code or 500, exc.name, exc.description, headers=headers)

    @app.errorhandler(Exception)
    def _crash_problem(exc: Exception) -> Response:
        log.exception("portal-sim: unexpected error")
        return problem(500, "Internal Server Error", "the simulator failed; see its log")

    app.wsgi_app = FaultMiddleware(app.wsgi_app, state)  # type: ignore[method-assign]
    return app
