"""Failures on demand, so the kiosk's retry and reconciliation paths can be shown to work.

A WSGI middleware in front of the simulator's Flask app handles every request under /api/v1
(never /admin or /phone, so a test can always switch faults off and read the stats):

1. ``latency_ms``: sleep first;
2. ``down_for_s``: until then (by SIM_CLOCK) answer 503 with Retry-After;
3. ``error_rate``: answer one of ``error_codes`` (429 and 503 with Retry-After) without processing;
4. ``timeout_rate``: sleep ``timeout_sleep_s``, then process and answer (the client is gone by then);
5. ``reset_rate``: drop the connection without a byte of answer, without processing;
6. ``drop_after_commit_rate``: let a POST /api/v1/applications run and commit, then drop the answer.

Each of 3-6 is drawn on its own, in that order, from one ``random.Random(seed)``, so a seed gives
the same sequence of faults for the same sequence of requests.

Dropping a connection under waitress: the app raises ``waitress.channel.ClientDisconnected``
before anything is written. Waitress then writes nothing and closes the connection (its channel
treats it as the client having gone). Before that the socket, found through the channel that
waitress puts in the environ (``environ["waitress.client_disconnected"].__self__``), gets
``SO_LINGER`` 0, so the close is a TCP reset. The client sees no status line: httpx raises
``ReadError`` (connection reset) or ``RemoteProtocolError`` (server disconnected without sending a
response), both ``httpx.TransportError``. Under any other server the middleware raises
``ConnectionDropped`` instead, which that server turns into its own failure.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from waitress.channel import ClientDisconnected

from kiosk.portal_sim.problems import problem_bytes

BUSY_CODES = (429, 503)
API_PREFIX = "/api/v1/"


class ConnectionDropped(Exception):
    """Raised to drop the connection when the server is not waitress."""


class BadFaults(ValueError):
    """A fault setting that makes no sense (400 from /admin/faults)."""


@dataclass(frozen=True)
class Faults:
    """The fault settings; all zero is a well-behaved central system."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_codes: tuple[int, ...] = (500, 503, 429)
    retry_after_s: int = 1
    timeout_rate: float = 0.0
    timeout_sleep_s: float = 30.0
    reset_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    down_for_s: float = 0.0
    seed: int | None = None

    @classmethod
    def from_mapping(cls, data: Any) -> Faults:
        """Settings from JSON or config; unknown names and impossible values are refused."""
        if not isinstance(data, dict):
            raise BadFaults("faults must be a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise BadFaults(f"unknown fault settings: {', '.join(sorted(map(str, unknown)))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise BadFaults("seed must be an integer or null")
                values[name] = value
            elif name == "error_codes":
                if not isinstance(value, list | tuple) or not value:
                    raise BadFaults("error_codes must be a non-empty list")
                if any(isinstance(c, bool) or not isinstance(c, int) or not 400 <= c <= 599 for c in value):
                    raise BadFaults("error_codes must be HTTP error codes (400-599)")
                values[name] = tuple(value)
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise BadFaults(f"{name} must be a number")
                if value < 0 or (name.endswith("_rate") and value > 1):
                    raise BadFaults(f"{name} must be {'0..1' if name.endswith('_rate') else '>= 0'}")
                values[name] = int(value) if name in ("latency_ms", "retry_after_s") else float(value)
        return cls(**values)

    @classmethod
    def from_config(cls, config: Any) -> Faults:
        """The SIM_<NAME> config keys (SIM_LATENCY_MS, SIM_ERROR_RATE, ..., SIM_FAULT_SEED)."""
        data = {}
        for f in fields(cls):
            key = "SIM_FAULT_SEED" if f.name == "seed" else f"SIM_{f.name.upper()}"
            if config.get(key) is not None:
                data[f.name] = config[key]
        return cls.from_mapping(data)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_codes"] = list(self.error_codes)
        return data


@dataclass
class Decision:
    """What to do with one request."""

    code: int | None = None  # answer this error without processing
    retry_after: int | None = None
    sleep_s: float = 0.0
    reset: bool = False
    drop_after_commit: bool = False


@dataclass
class FaultState:
    """The live settings, the random source, the down-until time and the API requests by answer."""

    clock: Callable[[], dt.datetime]
    faults: Faults = field(default_factory=Faults)
    down_until: dt.datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)
    requests: Counter[str] = field(default_factory=Counter)

    def set(self, faults: Faults) -> None:
        """Replace the settings; down_for_s counts from now, the seed restarts the sequence."""
        with self.lock:
            self.faults = faults
            self.rng = random.Random(faults.seed)
            self.down_until = self.clock() + dt.timedelta(seconds=faults.down_for_s) if faults.down_for_s else None

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            data = self.faults.as_json()
            data["down_until"] = self.down_until.isoformat() if self.down_until else None
            if self.down_until:
                data["down_remaining_s"] = max(0.0, (self.down_until - self.clock()).total_seconds())
            return data

    def count(self, key: str) -> None:
        with self.lock:
            self.requests[key] += 1

    def decide(self, method: str, path: str) -> Decision:
        with self.lock:
            f = self.faults
            decision = Decision(sleep_s=f.latency_ms / 1000)
            if self.down_until is not None:
                remaining = (self.down_until - self.clock()).total_seconds()
                if remaining > 0:
                    decision.code, decision.retry_after = 503, max(1, math.ceil(remaining))
                    return decision
            if not (f.error_rate or f.timeout_rate or f.reset_rate or f.drop_after_commit_rate):
                return decision
            error, timeout, reset, drop = (self.rng.random() for _ in range(4))
            if error < f.error_rate:
                decision.code = self.rng.choice(f.error_codes)
                decision.retry_after = f.retry_after_s if decision.code in BUSY_CODES else None
            elif timeout < f.timeout_rate:
                decision.sleep_s += f.timeout_sleep_s
            elif reset < f.reset_rate:
                decision.reset = True
            elif drop < f.drop_after_commit_rate and method == "POST" and path == API_PREFIX + "applications":
                decision.drop_after_commit = True
            return decision


def drop_connection(environ: dict[str, Any]) -> None:
    """End the connection with no answer (a TCP reset under waitress); always raises."""
    channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
    sock = getattr(channel, "socket", None)
    if channel is None:
        raise ConnectionDropped("fault: connection dropped")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # already closed: the client has its failure either way
    raise ClientDisconnected("fault: connection dropped")


class FaultMiddleware:
    """Wraps the simulator's WSGI app; see the module docstring for the order of faults."""

    def __init__(self, app: Callable[..., Iterable[bytes]], state: FaultState) -> None:
        self.app = app
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(API_PREFIX):
            return self.app(environ, start_response)
        seen: list[str] = []

        def counting_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status.split(" ", 1)[0]]
            return start_response(status, headers, exc_info)

        decision = self.state.decide(environ.get("REQUEST_METHOD", "GET"), path)
        if decision.sleep_s:
            time.sleep(decision.sleep_s)
        if decision.code is not None:
            self.state.count(str(decision.code))
            status, headers, body = problem_bytes(
                decision.code, "Fault injected", "the simulator was told to fail this request"
            )
            if decision.retry_after is not None:
                headers.append(("Retry-After", str(decision.retry_after)))
            start_response(status, headers)
            return [body]
        if decision.reset:
            self.state.count("reset")
            drop_connection(environ)

        if not decision.drop_after_commit:
            return self._counted(self.app(environ, counting_start_response), seen)

        # run the request to the end (its transaction commits inside), then answer nothing
        held: list[Any] = []

        def holding_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            held[:] = [status, headers, exc_info]
            return lambda _data: None

        result = self.app(environ, holding_start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if held and held[0].startswith("201"):
            self.state.count("dropped_after_commit")
            drop_connection(environ)
        status, headers, exc_info = held
        self.state.count(status.split(" ", 1)[0])
        start_response(status, headers, exc_info)
        return [body]

    def _counted(self, result: Iterable[bytes], seen: list[str]) -> Iterable[bytes]:
        """Count the answer's status once the app has called start_response."""
        try:
            yield from result
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            if seen:
                self.state.count(seen[0])
