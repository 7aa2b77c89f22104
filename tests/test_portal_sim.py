"""The central system simulator: signing, idempotency, statuses over time, the feed, and faults.

Time comes from SIM_CLOCK (moved by hand), randomness from a seed; faults are tried over real
HTTP (waitress in a thread, httpx), because a dropped connection only exists on a real socket.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.clients.signing import sign
from kiosk.domain.iin import make_iin
from kiosk.portal_sim import create_sim_app
from kiosk.portal_sim.models import Nonce
from kiosk.portal_sim.server import ServerThread

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(32, 64))
START = dt.datetime(2026, 5, 4, 6, 0, tzinfo=dt.UTC)

PARENT = "880412412349"  # listed, phone +7 701 *** ** 45
NO_PHONE = "790630345672"  # listed, no phone registered


def iin(born: dt.date, sex: str, serial: int) -> str:
    """A valid IIN, skipping serials that give no check digit."""
    while (number := make_iin(born, sex, serial)) is None:
        serial += 1
    return number


def child(n: int) -> str:
    return iin(dt.date(2019, 3, 1), "M", 100 + n * 3)


def key(n: int) -> str:
    return str(uuid.UUID(int=n))


def application(service: str = "grade1", n: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": service,
        "school_year": 2026,
        "submitted_at": "2026-05-04T06:00:00Z",
        "applicant_iin": PARENT,
        "child_iin": child(n),
        "identity": "sms",
        "signature": {"method": "sms"},
        "lang": "kk",
        "answers": {"child_name": "Test Child", "grade": "1"},
        "attachments": [],
        "payload_hash": f"{n:064x}",
    }
    body.update(over)
    return body


class SimClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Kiosk:
    """A kiosk talking to the simulator through Flask's test client, signing every request."""

    def __init__(self, client: FlaskClient, kiosk_id: str, key: bytes, clock: SimClock) -> None:
        self.client, self.kiosk_id, self.key, self.clock = client, kiosk_id, key, clock

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any):
        raw = b"" if body is None else json.dumps(body).encode()
        signed = sign(self.key, method, path, raw, self.kiosk_id, self.clock().timestamp())
        all_headers = {**signed, **({"Content-Type": "application/json"} if raw else {}), **(headers or {})}
        return self.client.open(path, method=method, data=raw, headers=all_headers, **kw)

    def get(self, path: str, **kw: Any):
        return self.request("GET", path, **kw)

    def submit(self, body: Any, idempotency_key: str):
        return self.request("POST", "/api/v1/applications", body, {"Idempotency-Key": idempotency_key})

    def feed(self, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        response = self.get(f"/api/v1/applications/changes?after={after}&limit={limit}")
        assert response.status_code == 200, response.json
        return response.json["changes"]


def make_sim(path: Path, clock: SimClock, **config: Any) -> Flask:
    return create_sim_app(
        {
            "SIM_INSTANCE_PATH": str(path),
            "SIM_KIOSK_KEYS": {"kiosk-1": KEY_1.hex(), "kiosk-2": KEY_2.hex()},
            "SIM_CLOCK": clock,
            "SIM_STEP_SECONDS": 20,
            "SIM_SCHOOL_CAPACITY": 2,
            **config,
        }
    )


@pytest.fixture
def sim_clock() -> SimClock:
    return SimClock()


@pytest.fixture
def sim(tmp_path: Path, sim_clock: SimClock) -> Iterator[Flask]:
    app = make_sim(tmp_path / "sim", sim_clock)
    yield app
    app.extensions["portal_sim"].engine.dispose()


@pytest.fixture
def kiosk1(sim: Flask, sim_clock: SimClock) -> Kiosk:
    return Kiosk(sim.test_client(), "kiosk-1", KEY_1, sim_clock)


@pytest.fixture
def kiosk2(sim: Flask, sim_clock: SimClock) -> Kiosk:
    return Kiosk(sim.test_client(), "kiosk-2", KEY_2, sim_clock)


def stats(sim: Flask) -> dict[str, Any]:
    return sim.test_client().get("/admin/stats").json


def is_problem(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    data = response.json
    assert {"type", "title", "status", "detail"} <= data.keys() and data["status"] == status
    return data


# --- signing -------------------------------------------------------------------------------------


def test_refuses_unsigned_unknown_stale_forged_and_replayed_requests(sim: Flask, kiosk1: Kiosk, sim_clock) -> None:
    client = sim.test_client()
    path = f"/api/v1/citizens/{PARENT}/phone"
    assert is_problem(client.get(path), 401)["detail"] == "unsigned"

    now = sim_clock().timestamp()
    stranger = sign(KEY_1, "GET", path, b"", "kiosk-9", now)
    assert is_problem(client.get(path, headers=stranger), 401)["detail"] == "unknown kiosk"

    stale = sign(KEY_1, "GET", path, b"", "kiosk-1", now - 301)
    assert is_problem(client.get(path, headers=stale), 401)["detail"] == "stale"

    wrong_key = sign(KEY_2, "GET", path, b"", "kiosk-1", now)
    assert is_problem(client.get(path, headers=wrong_key), 401)["detail"] == "bad signature"

    other_path = sign(KEY_1, "GET", f"/api/v1/citizens/{NO_PHONE}/phone", b"", "kiosk-1", now)
    assert is_problem(client.get(path, headers=other_path), 401)["detail"] == "bad signature"

    body = json.dumps({"iin": PARENT, "text": "hello"}).encode()
    tampered = sign(KEY_1, "POST", "/api/v1/sms", body, "kiosk-1", now)
    response = client.post("/api/v1/sms", data=body.replace(b"hello", b"hellO"), headers=tampered)
    assert is_problem(response, 401)["detail"] == "bad signature"

    good = sign(KEY_1, "GET", path, b"", "kiosk-1", now)
    assert client.get(path, headers=good).status_code == 200
    assert is_problem(client.get(path, headers=good), 401)["detail"] == "replayed nonce"
    sim_clock.tick(250)  # still fresh, still replayed
    assert is_problem(client.get(path, headers=good), 401)["detail"] == "replayed nonce"


def test_old_nonces_are_forgotten_after_twice_the_skew(sim: Flask, kiosk1: Kiosk, sim_clock) -> None:
    kiosk1.get(f"/api/v1/citizens/{PARENT}/phone")
    sim_clock.tick(601)
    kiosk1.get(f"/api/v1/citizens/{PARENT}/phone")
    with sim.extensions["portal_sim"].sessions() as s:
        seen = s.scalars(select(Nonce.seen_at)).all()
    assert seen == [sim_clock()]


# --- phone and SMS -------------------------------------------------------------------------------


def test_phone_look_up(kiosk1: Kiosk) -> None:
    assert kiosk1.get(f"/api/v1/citizens/{PARENT}/phone").json == {"registered": True, "masked": "+7 701 *** ** 45"}
    assert kiosk1.get(f"/api/v1/citizens/{NO_PHONE}/phone").json == {"registered": False}

    anyone = iin(dt.date(1990, 1, 2), "M", 1231)  # int(iin[7:11]) = 1231: registered, made-up phone
    first = kiosk1.get(f"/api/v1/citizens/{anyone}/phone").json
    assert first["registered"] is True and first["masked"].startswith("+7 700 *** ** ")
    assert kiosk1.get(f"/api/v1/citizens/{anyone}/phone").json == first  # the same every time

    nobody = iin(dt.date(1990, 1, 2), "M", 1230)
    assert int(nobody[7:11]) % 10 == 0
    assert kiosk1.get(f"/api/v1/citizens/{nobody}/phone").json == {"registered": False}

    for bad in ("880412412340", "12345", "88041241234x", "8804124123490"):
        is_problem(kiosk1.get(f"/api/v1/citizens/{bad}/phone"), 400)


def test_sms_is_delivered_to_the_simulated_phone(sim: Flask, kiosk1: Kiosk, sim_clock) -> None:
    assert kiosk1.request("POST", "/api/v1/sms", {"iin": PARENT, "text": "Code 111111"}).status_code == 202
    sim_clock.tick(90)
    response = kiosk1.request("POST", "/api/v1/sms", {"iin": PARENT, "text": "Code 222222"})
    assert response.status_code == 202 and response.json["id"]

    page = sim.test_client().get(f"/phone/{PARENT}").get_data(as_text=True)
    assert page.index("Code 222222") < page.index("Code 111111")  # newest first
    assert "+7 701 *** ** 45" in page
    listing = sim.test_client().get("/phone").get_data(as_text=True)
    assert "Code 222222" in listing and PARENT in listing and NO_PHONE in listing
    assert listing.index(PARENT) < listing.index(NO_PHONE)  # who got texts comes first

    is_problem(kiosk1.request("POST", "/api/v1/sms", {"iin": NO_PHONE, "text": "x"}), 404)
    is_problem(kiosk1.request("POST", "/api/v1/sms", {"iin": PARENT, "text": ""}), 400)
    is_problem(kiosk1.request("POST", "/api/v1/sms", {"iin": PARENT, "text": "x", "to": "+7"}), 400)
    is_problem(kiosk1.request("POST", "/api/v1/sms", {"iin": "880412412340", "text": "x"}), 400)
    assert stats(sim)["sms"] == 2


def test_an_sms_to_any_registered_iin_shows_that_phone(sim: Flask, kiosk1: Kiosk) -> None:
    anyone = iin(dt.date(1991, 2, 3), "F", 4441)
    assert kiosk1.request("POST", "/api/v1/sms", {"iin": anyone, "text": "Hello there"}).status_code == 202
    assert "Hello there" in sim.test_client().get("/phone").get_data(as_text=True)
    assert sim.test_client().get("/phone/123").status_code == 404


# --- applications --------------------------------------------------------------------------------


def test_same_key_and_body_gives_the_same_reference_for_ever(sim: Flask, kiosk1: Kiosk, sim_clock) -> None:
    body = application()
    first = kiosk1.submit(body, key(1))
    assert first.status_code == 201 and first.json["status"] == "accepted"
    sim_clock.tick(86400 * 400)  # a year later: still the same answer
    reordered = json.loads(json.dumps(dict(reversed(list(body.items())))))
    again = kiosk1.submit(reordered, key(1))
    assert again.status_code == 201 and again.json == first.json

    conflict = kiosk1.submit(application(lang="ru"), key(1))
    assert is_problem(conflict, 409)
    numbers = stats(sim)
    assert numbers["applications"] == 1 and numbers["idempotency_keys"] == 1 and numbers["duplicate_rows"] == 0
    assert numbers["replays"] == 1 and numbers["conflicts"] == 1 and numbers["duplicates_refused"] == 2


def test_the_same_key_from_another_kiosk_is_another_application(sim: Flask, kiosk1: Kiosk, kiosk2: Kiosk) -> None:
    one = kiosk1.submit(application(), key(7)).json["reference"]
    two = kiosk2.submit(application(), key(7)).json["reference"]
    assert one != two and stats(sim)["applications"] == 2


@pytest.mark.parametrize("value", [None, "", "not-a-uuid", "00000000000000000000000000000001"])
def test_a_missing_or_malformed_idempotency_key_is_400(kiosk1: Kiosk, value: str | None) -> None:
    headers = {} if value is None else {"Idempotency-Key": value}
    is_problem(kiosk1.request("POST", "/api/v1/applications", application(), headers), 400)


def test_a_body_that_is_not_json_is_400(sim: Flask, kiosk1: Kiosk, sim_clock) -> None:
    raw = b"{not json"
    headers = sign(KEY_1, "POST", "/api/v1/applications", raw, "kiosk-1", sim_clock().timestamp())
    response = sim.test_client().post("/api/v1/applications", data=raw, headers={**headers, "Idempotency-Key": key(1)})
    is_problem(response, 400)


def test_422_names_the_rejected_fields(sim: Flask, kiosk1: Kiosk) -> None:
    body = application(lang="de", school_year=True, child_iin="123456789012", submitted_at="yesterday", extra=1)
    body["answers"] = {"grade": 1, "note": "x" * 501}
    body["attachments"] = ["ABC"]
    del body["payload_hash"]
    data = is_problem(kiosk1.submit(body, key(2)), 422)
    fields = {e["field"] for e in data["errors"]}
    assert fields == {
        "lang",
        "school_year",
        "child_iin",
        "submitted_at",
        "extra",
        "answers.grade",
        "answers.note",
        "attachments[0]",
        "payload_hash",
    }
    assert all(e["message"] for e in data["errors"])
    assert is_problem(kiosk1.submit([1, 2], key(3)), 422)["errors"][0]["field"] == "(body)"
    assert stats(sim)["applications"] == 0


def test_concurrent_resends_of_one_key_make_one_application(sim: Flask, sim_clock) -> None:
    """Eight threads send the same application at once (the lock and the unique key hold)."""
    references: list[str] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            kiosk = Kiosk(sim.test_client(), "kiosk-1", KEY_1, sim_clock)
            references.append(kiosk.submit(application(), key(9)).json["reference"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(references) == 8 and len(set(references)) == 1
    assert stats(sim)["applications"] == 1


# --- statuses and the feed -----------------------------------------------------------------------


def statuses(kiosk: Kiosk) -> dict[str, str]:
    listing = kiosk.get("/api/v1/applications?from=2026-01-01&to=2026-12-31").json["applications"]
    return {a["idempotency_key"]: a["status"] for a in listing}


def test_statuses_move_on_with_the_clock(kiosk1: Kiosk, sim_clock) -> None:
    kiosk1.submit(application("transport"), key(1))
    assert statuses(kiosk1) == {key(1): "accepted"}
    sim_clock.tick(19)
    assert statuses(kiosk1) == {key(1): "accepted"}
    sim_clock.tick(1)
    assert statuses(kiosk1) == {key(1): "in_progress"}
    sim_clock.tick(20)
    assert statuses(kiosk1) == {key(1): "approved"}
    feed = kiosk1.feed()
    assert [(c["status"], c["at"]) for c in feed] == [
        ("accepted", "2026-05-04T06:00:00Z"),
        ("in_progress", "2026-05-04T06:00:20Z"),
        ("approved", "2026-05-04T06:00:40Z"),
    ]
    assert all(c["reason"] is None for c in feed)


def test_grade1_beyond_capacity_and_meals_without_the_decision_are_refused(kiosk1: Kiosk, sim_clock) -> None:
    for n in range(1, 5):  # capacity 2: the third and fourth are refused
        assert kiosk1.submit(application("grade1", n), key(n)).status_code == 201
    kiosk1.submit(application("grade1", 5, school_year=2027), key(5))  # another year has its own places
    emergency = {"category": "emergency", "grade": "3"}
    kiosk1.submit(application("meals", 6, answers=emergency), key(6))
    kiosk1.submit(application("meals", 7, answers=emergency, attachments=["ab" * 32]), key(7))
    kiosk1.submit(application("meals", 8, answers={"category": "orphan"}), key(8))
    sim_clock.tick(40)
    final = {c["idempotency_key"]: c for c in kiosk1.feed() if c["status"] in ("approved", "refused")}
    outcome = {k: c["status"] for k, c in final.items()}
    assert outcome == {
        key(1): "approved",
        key(2): "approved",
        key(3): "refused",
        key(4): "refused",
        key(5): "approved",
        key(6): "refused",
        key(7): "approved",
        key(8): "approved",
    }
    assert final[key(3)]["reason"] == {
        "kk": "Мектепте бос орын жоқ",
        "ru": "В школе нет свободных мест",
        "en": "The school has no free places",
    }
    meals = final[key(6)]["reason"]
    assert set(meals) == {"kk", "ru", "en"} and "collegial" in meals["en"] and "коллегиального" in meals["ru"]
    assert "алқалы" in meals["kk"]
    assert statuses(kiosk1)[key(4)] == "refused"


def test_the_feed_replays_from_any_cursor_and_shows_only_this_kiosk(kiosk1: Kiosk, kiosk2: Kiosk, sim_clock) -> None:
    for n in range(1, 4):
        kiosk1.submit(application("transport", n), key(n))
        kiosk2.submit(application("transport", n), key(100 + n))
        sim_clock.tick(7)
    sim_clock.tick(60)
    mine = kiosk1.feed()
    assert len(mine) == 9 and {c["idempotency_key"] for c in mine} == {key(1), key(2), key(3)}
    cursors = [c["cursor"] for c in mine]
    assert cursors == sorted(cursors) and len(set(cursors)) == 9
    assert [c["at"] for c in mine] == sorted(c["at"] for c in mine)  # written in due order
    theirs = kiosk2.feed()
    assert len(theirs) == 9 and {c["idempotency_key"] for c in theirs} == {key(101), key(102), key(103)}

    for i, change in enumerate([{"cursor": 0}, *mine]):
        assert kiosk1.feed(after=change["cursor"]) == mine[i:]
    paged, after = [], 0
    while True:
        page = kiosk1.get(f"/api/v1/applications/changes?after={after}&limit=2").json
        if not page["changes"]:
            assert page["next"] == after
            break
        paged += page["changes"]
        after = page["next"]
    assert paged == mine
    default = kiosk1.get("/api/v1/applications/changes").json
    assert default["changes"] == mine and default["next"] == mine[-1]["cursor"]

    # a cursor past 64 bits: the 500 schemathesis found (SQLite cannot hold it), a 400 by the contract now
    for query in ("after=-1", "after=x", "after=99999999999999999999", "limit=0", "limit=501", "limit=2.5"):
        is_problem(kiosk1.get(f"/api/v1/applications/changes?{query}"), 400)


def test_transitions_are_the_same_for_the_same_clock(tmp_path: Path) -> None:
    def run(folder: str) -> list[dict[str, Any]]:
        clock = SimClock()
        app = make_sim(tmp_path / folder, clock)
        kiosk = Kiosk(app.test_client(), "kiosk-1", KEY_1, clock)
        for n in range(1, 5):
            kiosk.submit(application("grade1", n), key(n))
            clock.tick(13)
        kiosk.get(f"/api/v1/citizens/{PARENT}/phone")
        clock.tick(30)
        feed = kiosk.feed()
        app.extensions["portal_sim"].engine.dispose()
        return feed

    assert run("a") == run("b")


def test_the_listing_by_received_date_in_utc_both_days_included(kiosk1: Kiosk, kiosk2: Kiosk, sim_clock) -> None:
    sim_clock.now = dt.datetime(2026, 5, 3, 23, 59, 59, tzinfo=dt.UTC)
    kiosk1.submit(application("transport", 1), key(1))
    sim_clock.now = dt.datetime(2026, 5, 4, 0, 0, 0, tzinfo=dt.UTC)
    kiosk1.submit(application("transport", 2), key(2))
    kiosk2.submit(application("transport", 2), key(22))
    sim_clock.now = dt.datetime(2026, 5, 5, 23, 59, 59, tzinfo=dt.UTC)
    kiosk1.submit(application("transport", 3), key(3))

    def held(start: str, end: str) -> list[str]:
        response = kiosk1.get(f"/api/v1/applications?from={start}&to={end}")
        assert response.status_code == 200
        return [a["idempotency_key"] for a in response.json["applications"]]

    assert held("2026-05-03", "2026-05-03") == [key(1)]
    assert held("2026-05-04", "2026-05-05") == [key(2), key(3)]
    assert held("2026-05-01", "2026-05-31") == [key(1), key(2), key(3)]
    assert held("2026-05-06", "2026-05-31") == []
    assert held("2026-05-05", "2026-05-04") == []  # an empty range
    assert held("0001-01-01", "9999-12-31") == [key(1), key(2), key(3)]
    one = kiosk1.get("/api/v1/applications?from=2026-05-04&to=2026-05-04").json["applications"][0]
    assert one["service"] == "transport" and one["received_at"] == "2026-05-04T00:00:00Z"
    assert one["reference"] and one["status"] == "approved"  # two days later
    for query in ("from=2026-05-04", "to=2026-05-04", "from=2026-02-30&to=2026-05-04", "from=20260504&to=2026-05-05"):
        is_problem(kiosk1.get(f"/api/v1/applications?{query}"), 400)


# --- admin ---------------------------------------------------------------------------------------


def test_admin_answers_only_on_localhost_and_checks_its_input(sim: Flask) -> None:
    remote = sim.test_client().get("/admin/stats", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert is_problem(remote, 403)
    client = sim.test_client()
    for bad in ({"error_rate": 2}, {"nonsense": 1}, {"error_codes": [200]}, {"latency_ms": -1}, [1]):
        is_problem(client.post("/admin/faults", json=bad), 400)
    set_ = client.post("/admin/faults", json={"error_rate": 0.5, "seed": 3}).json
    assert set_["error_rate"] == 0.5 and set_["seed"] == 3
    assert client.post("/admin/faults", json={}).json["error_rate"] == 0.0
    assert client.get("/admin/faults").json["error_rate"] == 0.0


def test_faults_can_be_set_by_config(tmp_path: Path, sim_clock: SimClock) -> None:
    app = make_sim(tmp_path / "sim", sim_clock, SIM_ERROR_RATE=1.0, SIM_ERROR_CODES=[503], SIM_FAULT_SEED=1)
    kiosk = Kiosk(app.test_client(), "kiosk-1", KEY_1, sim_clock)
    response = kiosk.get(f"/api/v1/citizens/{PARENT}/phone")
    assert is_problem(response, 503) and response.headers["Retry-After"] == "1"
    assert app.test_client().get("/phone").status_code == 200  # only the API fails
    app.extensions["portal_sim"].engine.dispose()


def test_the_cli_serves_the_simulator_without_the_kiosk_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import waitress

    from kiosk.cli import main

    served: dict[str, Any] = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: served.update(app=app, **kw))
    args = ["portal-sim", "--port", "8099", "--instance", str(tmp_path / "sim"), "--kiosk-key", "kiosk-7=00ff"]
    args += ["--error-rate", "0.25", "--error-codes", "503", "--reset-rate", "0.1", "--seed", "5", "--down-for", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    app = served["app"]
    assert served["port"] == 8099 and served["threads"] == 8
    assert app.extensions["portal_sim"].keys == {"kiosk-7": b"\x00\xff"}
    faults = app.test_client().get("/admin/faults").json
    assert faults["error_rate"] == 0.25 and faults["error_codes"] == [503] and faults["reset_rate"] == 0.1
    assert faults["seed"] == 5 and (tmp_path / "sim" / "portal_sim.sqlite3").exists()
    app.extensions["portal_sim"].engine.dispose()
    bad = CliRunner().invoke(main, ["portal-sim", "--kiosk-key", "nokey"])
    assert bad.exit_code != 0 and "KIOSK_ID=HEX" in bad.output


# --- faults over real HTTP -----------------------------------------------------------------------


class Signer(httpx.Auth):
    """httpx signs what it actually sends: the raw path with its query and the body bytes."""

    requires_request_body = True

    def __init__(self, kiosk_id: str, key: bytes, clock: Callable[[], dt.datetime]) -> None:
        self.kiosk_id, self.key, self.clock = kiosk_id, key, clock

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        target = request.url.raw_path.decode()
        request.headers.update(
            sign(self.key, request.method, target, request.content, self.kiosk_id, self.clock().timestamp())
        )
        yield request


@pytest.fixture
def live(sim: Flask, sim_clock: SimClock) -> Iterator[httpx.Client]:
    """The simulator served by waitress on a free port; an httpx client signing as kiosk-1."""
    served = ServerThread(sim)
    try:
        with httpx.Client(base_url=served.url, auth=Signer("kiosk-1", KEY_1, sim_clock), timeout=5.0) as client:
            yield client
    finally:
        served.stop()


def set_faults(client: httpx.Client, **faults: Any) -> None:
    response = client.post("/admin/faults", json=faults, auth=None)
    assert response.status_code == 200, response.text


def live_stats(client: httpx.Client) -> dict[str, Any]:
    return client.get("/admin/stats", auth=None).json()


def post_application(client: httpx.Client, body: dict[str, Any], idempotency_key: str, **kw: Any) -> httpx.Response:
    return client.post("/api/v1/applications", json=body, headers={"Idempotency-Key": idempotency_key}, **kw)


def test_error_rate_answers_the_codes_with_retry_after(live: httpx.Client) -> None:
    set_faults(live, error_rate=1.0, error_codes=[500, 503, 429], seed=42)
    answers = [live.get(f"/api/v1/citizens/{PARENT}/phone") for _ in range(30)]
    codes = [r.status_code for r in answers]
    assert set(codes) == {500, 503, 429}
    for r in answers:
        assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == r.status_code
        assert (r.headers.get("Retry-After") == "1") == (r.status_code in (429, 503))
    set_faults(live, error_rate=1.0, error_codes=[500, 503, 429], seed=42)  # the same seed, the same run
    assert [live.get(f"/api/v1/citizens/{PARENT}/phone").status_code for _ in range(30)] == codes
    assert live_stats(live)["requests"]["500"] == 2 * codes.count(500)

    set_faults(live, error_rate=0.5, seed=7)
    mixed = [live.get(f"/api/v1/citizens/{PARENT}/phone").status_code for _ in range(40)]
    assert 200 in mixed and len(set(mixed)) > 1
    set_faults(live)
    assert live.get(f"/api/v1/citizens/{PARENT}/phone").status_code == 200


def test_an_error_answer_stores_nothing(live: httpx.Client) -> None:
    set_faults(live, error_rate=1.0, error_codes=[503], seed=1)
    assert post_application(live, application(), key(1)).status_code == 503
    assert live_stats(live)["applications"] == 0


def test_latency_delays_every_answer(live: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.portal_sim import faults

    held: list[float] = []  # how long each answer was held, in seconds: counted, not timed
    monkeypatch.setattr(faults, "time", types.SimpleNamespace(sleep=held.append))
    set_faults(live, latency_ms=300)
    assert live.get(f"/api/v1/citizens/{PARENT}/phone").status_code == 200
    assert held == [0.3]
    live.get("/admin/stats", auth=None)  # the admin side is never slowed
    assert held == [0.3]


def test_timeout_keeps_the_client_waiting_past_its_limit(live: httpx.Client) -> None:
    set_faults(live, timeout_rate=1.0, timeout_sleep_s=1.0, seed=1)
    with pytest.raises(httpx.ReadTimeout):
        live.get(f"/api/v1/citizens/{PARENT}/phone", timeout=0.3)
    set_faults(live)
    assert live.get(f"/api/v1/citizens/{PARENT}/phone").status_code == 200
    deadline = time.monotonic() + 5  # the slow one is answered in the end, to nobody
    while live_stats(live)["requests"].get("200", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_stats(live)["requests"]["200"] == 2


def test_reset_drops_the_connection_before_processing(live: httpx.Client) -> None:
    set_faults(live, reset_rate=1.0, seed=1)
    with pytest.raises(httpx.TransportError):
        live.get(f"/api/v1/citizens/{PARENT}/phone")
    with pytest.raises(httpx.TransportError):
        post_application(live, application(), key(1))
    numbers = live_stats(live)
    assert numbers["applications"] == 0 and numbers["requests"]["reset"] == 2
    set_faults(live)
    assert post_application(live, application(), key(1)).status_code == 201


def test_drop_after_commit_stores_the_application_but_the_client_hears_nothing(live: httpx.Client) -> None:
    set_faults(live, drop_after_commit_rate=1.0, seed=1)
    with pytest.raises(httpx.TransportError):
        post_application(live, application(), key(1))
    numbers = live_stats(live)
    assert numbers["applications"] == 1 and numbers["requests"]["dropped_after_commit"] == 1
    assert live.get(f"/api/v1/citizens/{PARENT}/phone").status_code == 200  # only stored applications drop

    set_faults(live)
    resent = post_application(live, application(), key(1))  # the kiosk's retry, with the same key
    assert resent.status_code == 201
    listing = live.get("/api/v1/applications", params={"from": "2026-05-04", "to": "2026-05-04"}).json()
    assert [a["reference"] for a in listing["applications"]] == [resent.json()["reference"]]
    numbers = live_stats(live)
    assert numbers["applications"] == 1 and numbers["duplicate_rows"] == 0 and numbers["replays"] == 1


def test_retries_through_every_fault_store_each_application_once(live: httpx.Client) -> None:
    """A kiosk that resends until it hears 201: all faults on, no duplicates, every one stored."""
    set_faults(
        live,
        error_rate=0.2,
        reset_rate=0.2,
        drop_after_commit_rate=0.4,
        timeout_rate=0.1,
        timeout_sleep_s=0.4,
        seed=2026,
    )
    references = {}
    for n in range(1, 11):
        for _attempt in range(50):
            try:
                response = post_application(live, application("transport", n), key(n), timeout=0.2)
            except httpx.TransportError:
                continue
            if response.status_code == 201:
                references[key(n)] = response.json()["reference"]
                break
        else:
            pytest.fail(f"application {n} never got through")
    set_faults(live)
    time.sleep(0.5)  # let the last slow answer finish
    numbers = live_stats(live)
    assert numbers["applications"] == 10 and numbers["idempotency_keys"] == 10 and numbers["duplicate_rows"] == 0
    assert numbers["requests"].get("dropped_after_commit", 0) > 0 and numbers["requests"].get("reset", 0) > 0
    listing = live.get("/api/v1/applications", params={"from": "2026-05-04", "to": "2026-05-04"}).json()
    held = {a["idempotency_key"]: a["reference"] for a in listing["applications"]}
    assert held == references


def test_down_for_answers_503_until_the_time_is_up(live: httpx.Client, sim_clock) -> None:
    set_faults(live, down_for_s=60)
    response = live.get(f"/api/v1/citizens/{PARENT}/phone")
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert response.headers["content-type"] == "application/problem+json"
    sim_clock.tick(45)
    assert live.get(f"/api/v1/citizens/{PARENT}/phone").headers["Retry-After"] == "15"
    assert live.get("/admin/faults", auth=None).json()["down_remaining_s"] == 15
    sim_clock.tick(15)
    assert live.get(f"/api/v1/citizens/{PARENT}/phone").status_code == 200


def test_the_phone_page_over_http(live: httpx.Client) -> None:
    assert live.post("/api/v1/sms", json={"iin": PARENT, "text": "Code 424242"}).status_code == 202
    page = live.get("/phone", auth=None)
    assert page.status_code == 200 and "Code 424242" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_the_kiosks_own_client_speaks_to_the_simulator(tmp_path: Path) -> None:
    """kiosk.clients.portal.HttpPortal (real clock, real signing) against the simulator over HTTP."""
    from kiosk.clients.portal import Accepted, HttpPortal

    app = create_sim_app({"SIM_INSTANCE_PATH": str(tmp_path / "sim"), "SIM_KIOSK_KEYS": {"kiosk-1": KEY_1.hex()}})
    with ServerThread(app) as served:
        portal = HttpPortal(served.url, "kiosk-1", KEY_1, timeout=5)
        try:
            assert portal.phone_for(PARENT).masked == "+7 701 *** ** 45"
            assert portal.phone_for(NO_PHONE) is None
            portal.send_sms(PARENT, "Код 123456")
            first = portal.submit(key(1), application("meals", answers={"category": "orphan"}))
            assert (
                isinstance(first, Accepted)
                and portal.submit(key(1), application("meals", answers={"category": "orphan"})) == first
            )
            changes, cursor = portal.changes(0)
            assert [(c.reference, c.status) for c in changes] == [(first.reference, "accepted")] and cursor == 1
            today = dt.datetime.now(dt.UTC).date()  # a day either side: midnight may pass meanwhile
            around = portal.listing(today - dt.timedelta(days=1), today + dt.timedelta(days=1))
            assert [a["reference"] for a in around] == [first.reference]
        finally:
            portal.close()
    assert "Код 123456" in app.test_client().get(f"/phone/{PARENT}").get_data(as_text=True)
    app.extensions["portal_sim"].engine.dispose()


def test_a_store_from_before_a_table_gained_a_column_opens_and_gains_it(tmp_path: Path) -> None:
    """The embedded simulator's store outlives upgrades of the code (it is in the instance folder)."""
    import sqlite3

    first = create_sim_app({"SIM_INSTANCE_PATH": str(tmp_path)})
    first.extensions["portal_sim"].engine.dispose()
    store = tmp_path / "portal_sim.sqlite3"
    with sqlite3.connect(store) as conn:
        conn.execute("ALTER TABLE application_signatures DROP COLUMN cms")  # as a store made before the CMS was kept
    again = create_sim_app({"SIM_INSTANCE_PATH": str(tmp_path)})
    again.extensions["portal_sim"].engine.dispose()
    with sqlite3.connect(store) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(application_signatures)")}
    assert "cms" in columns
