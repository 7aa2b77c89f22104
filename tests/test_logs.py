"""Logs: one JSON object per line in UTC, and no IIN, phone number or SMS code in any of them."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.flows import CARD, child_iin, demo_code, fill_form, meals, soup, token
from kiosk import ROOT, create_app
from kiosk.infra.logs import JsonFormatter, configure, make_handler, mask_personal

IIN = "880412412349"
PHONE = "+7 701 123 45 67"
CODE = "493817"
# every way the seeded values could leak: as given, digits only, and in common groupings
SECRETS = [IIN, "880412 412349", PHONE, "77011234567", "7011234567", "1234567", "123 45 67", CODE]


def assert_clean(text: str) -> None:
    joined = re.sub(r"(?<=\d)[\s()-]+(?=\d)", "", text)  # "880412 412349" read as one number
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {text!r}"
    for secret in (IIN, CODE, "7011234567"):
        assert secret not in joined, f"{secret!r} leaked (grouped) into {text!r}"


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    log = logging.getLogger("kiosk.test_logs")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    handler = make_handler("json", stream)
    log.addHandler(handler)
    yield log, stream
    log.removeHandler(handler)
    log.propagate = True


def emit_seeded(log: logging.Logger) -> None:
    """Every way a record carries text: the message, its arguments, extras, a traceback."""
    log.info("identify %s phone %s", IIN, PHONE)
    log.info(f"sms to {PHONE}: Your code: {CODE}. It is valid for 5 minutes.")
    log.warning("Сіздің кодыңыз: %s. Ваш код: %s", CODE, CODE)
    log.info("typed with spaces: 880412 412349, 8 (701) 123-45-67, +77011234567")
    log.info("portal said", extra={"iin": IIN, "phone": PHONE, "sms_code": CODE, "body": {"child_iin": int(IIN)}})
    log.info("path /status/%s?iin=%s", "7KP-Q4X-9MZ", IIN)
    try:
        raise ValueError(f"no phone registered for {IIN} ({PHONE}), code {CODE}")
    except ValueError:
        log.exception("central system refused")
    log.error("stack", stack_info=True, extra={"otp": CODE})


def test_each_record_is_one_line_of_json_with_utc_time_level_logger_message(logger) -> None:
    log, stream = logger
    emit_seeded(log)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8  # the traceback and the stack stayed inside their records' lines
    for line in lines:
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= entry.keys()
        assert entry["logger"] == "kiosk.test_logs"
        assert entry["time"].endswith("Z")
        when = dt.datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60
    extras = json.loads(lines[4])
    assert extras["iin"] == "8804******49" and extras["phone"] == "+7 701 *** ** 67"
    assert extras["sms_code"] == "******" and extras["body"] == {"child_iin": "8804******49"}
    failure = json.loads(lines[6])
    assert failure["level"] == "ERROR" and "ValueError" in failure["exc"] and "8804******49" in failure["exc"]
    assert json.loads(lines[7])["otp"] == "******" and "stack" in json.loads(lines[7])


def test_no_seeded_iin_phone_or_code_reaches_the_output_in_either_format(logger) -> None:
    log, stream = logger
    emit_seeded(log)
    assert_clean(stream.getvalue())

    text_stream = io.StringIO()
    log.handlers[0].setStream(text_stream)
    log.handlers[0].setFormatter(make_handler("text").formatter)
    emit_seeded(log)
    out = text_stream.getvalue()
    assert "8804******49" in out and "+7 701 *** ** 67" in out
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO kiosk.test_logs: ", out)
    assert_clean(out)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("IIN 880412412349.", "IIN 8804******49."),
        ("iin=880412412349&x=1", "iin=8804******49&x=1"),
        ("8804 1241 2349", "8804******49"),
        ("2026-05-04 880412412349", "2026-05-04 8804******49"),
        ("+7 701 123 45 67", "+7 701 *** ** 67"),
        ("+7(701)123-45-67", "+7 701 *** ** 67"),
        ("87011234567", "+7 701 *** ** 67"),
        ("Your code: 493817.", "Your code: ******."),
        ("Ваш код: 493817", "Ваш код: ******"),
        ("Сіздің кодыңыз: 493817", "Сіздің кодыңыз: ******"),
    ],
)
def test_masked_forms(raw: str, masked: str) -> None:
    assert mask_personal(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "2026-11-22T12:30:45Z port 8080 pid 12345 on 127.0.0.1",
        "submission 7KP-Q4X-9MZ queued (grade1, queued)",
        "sent 20, status changes 3; backoff 600.0 s",
        "Running upgrade 0005 -> 0006",
    ],
)
def test_ordinary_numbers_stay(kept: str) -> None:
    assert mask_personal(kept) == kept


def test_configure_replaces_its_own_handler_instead_of_adding_another() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        configure("json", stream=io.StringIO())
        configure("json", stream=io.StringIO())
        assert len([h for h in root.handlers if h.get_name() == "kiosk"]) == 1
        with pytest.raises(ValueError, match="LOG_FORMAT"):
            configure("xml")
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(level)


def test_log_format_defaults_to_text_and_reads_the_environment(instance: Path, monkeypatch) -> None:
    assert create_app().config["LOG_FORMAT"] == "text"
    monkeypatch.setenv("KIOSK_LOG_FORMAT", "json")
    assert create_app().config["LOG_FORMAT"] == "json"


def _env(instance: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return {**env, "KIOSK_INSTANCE_PATH": str(instance), "KIOSK_LOG_FORMAT": "json", **settings}


def _json_lines(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # fails on the first line that is not JSON


def test_kiosk_sync_writes_only_json_lines_to_stderr(instance: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "sync", "--once"],
        env=_env(instance, KIOSK_PORTAL="http", KIOSK_PORTAL_URL="http://127.0.0.1:9/", KIOSK_PORTAL_TIMEOUT_S="1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    entries = _json_lines(done.stderr)
    assert any(e["logger"] == "kiosk.jobs.sync" and "not reachable" in e["message"] for e in entries)
    assert done.stdout.strip() == "sent 0, status changes 0"


def test_kiosk_run_writes_only_json_lines_to_stderr_and_stdout(instance: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "run", "--port", str(port)],
        env=_env(instance, KIOSK_PORTAL="demo"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.2)
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)
    assert stdout.strip() == ""  # the start-up lines went to the log, as JSON
    entries = _json_lines(stderr)
    assert any(e["logger"] == "kiosk.cli" and e["message"].startswith("Kiosk on http://") for e in entries)


def test_json_formatter_survives_values_json_cannot_hold() -> None:
    record = logging.LogRecord("kiosk.x", logging.INFO, __file__, 1, "at %s", (dt.date(2026, 5, 4),), None)
    record.path = Path("/var/lib/kiosk")
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "at 2026-05-04" and entry["path"] == "/var/lib/kiosk"


class _Keep(logging.Handler):
    """A handler with no masking at all: what any handler of any site could be given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_no_log_record_holds_an_sms_code_while_the_demo_phone_shows_it(app, clock, capfd) -> None:
    """The console gateway masks the code at the source; the log's masking is only a second net."""
    raw, text_out, json_out = _Keep(), io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers = [raw, make_handler("text", text_out), make_handler("json", json_out)]
    level = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    client = app.test_client()
    try:
        client.get("/ru/identify?service=meals")
        client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(client, "/ru/identify")})
        identify_code = demo_code(client, "/ru/identify/code")  # the demo phone shows the code
        done = client.post(
            "/ru/identify/code", data={"code": identify_code, "csrf_token": token(client, "/ru/identify/code")}
        )
        assert done.headers["Location"].endswith("/ru/identify/done")
        answers = meals(child_iin(dt.date(2016, 9, 9)))
        assert fill_form(client, "ru", answers).status_code == 302
        clock.now += dt.timedelta(seconds=61)
        client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
        sign_code = demo_code(client, "/ru/apply/sign")
        assert sign_code != identify_code
        signed = client.post("/ru/apply/sign", data={"code": sign_code, "csrf_token": token(client, "/ru/apply/sign")})
        assert "/receipt/" in signed.headers["Location"], soup(signed).select_one(".alert")
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(level)
    printed = capfd.readouterr()
    for code in (identify_code, sign_code):
        for record in raw.records:
            message = record.getMessage()
            assert code not in message, f"the code reached a log record: {message!r}"
            assert code not in repr(vars(record)), f"the code reached a record's fields: {message!r}"
        for output in (text_out.getvalue(), json_out.getvalue(), printed.out, printed.err):
            assert code not in output
    sms_records = [r for r in raw.records if r.name == "kiosk.clients.sms" and "console SMS" in r.getMessage()]
    assert len(sms_records) == 2 and all("******" in r.getMessage() for r in sms_records)  # logged, masked
