"""contract/openapi.yaml is valid OpenAPI, and the simulator keeps to it under generated requests.

Schemathesis makes requests for every operation from the contract (valid ones, and ones that
break it), a requests ``AuthBase`` signs each one as it is sent (the HMAC needs the exact path
and body bytes), and the simulator answers over real HTTP (waitress in a thread). Each answer is
checked against the contract: a documented status, content type, headers and body, and no 5xx.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from kiosk import ROOT
from kiosk.clients.signing import sign
from kiosk.domain.iin import make_iin
from kiosk.portal_sim import create_sim_app
from kiosk.portal_sim.server import ServerThread

CONTRACT = ROOT / "contract" / "openapi.yaml"
KEY = bytes(range(32))
KIOSK_ID = "kiosk-1"
DIGITS12 = re.compile(r"[0-9]{12}")
IIN_FIELDS = ("iin", "applicant_iin", "child_iin")
SIGN_ME = "sign-me"

schema = schemathesis.openapi.from_path(str(CONTRACT))


def real_iin(value: Any) -> Any:
    """Turn 12 generated digits into an issuable IIN, the same one for the same digits.

    The contract's ``iin`` format admits only IINs with a right check digit, which schemathesis
    cannot make on its own: the format's strategy uses this, and so does the test for the values
    its coverage phase makes from the pattern alone. Anything that does not match the pattern is
    left alone: it is there to be refused.
    """
    if not (isinstance(value, str) and DIGITS12.fullmatch(value)):
        return value
    n = int(value)
    born = dt.date(1940, 1, 1) + dt.timedelta(days=n % 30000)
    serial = (n // 30000) % 10000
    while (number := make_iin(born, "MF"[n % 2], serial)) is None:
        serial = (serial + 1) % 10000
    return number


# the contract's own format: any 12 digits made into an issuable IIN
schemathesis.openapi.format("iin", st.from_regex(DIGITS12, fullmatch=True).map(real_iin))


def test_the_contract_is_valid_openapi() -> None:
    validate(yaml.safe_load(CONTRACT.read_text()))


class Signed(requests.auth.AuthBase):
    """Sign the prepared request, so what is signed is exactly what goes on the wire.

    Only a request whose X-Signature is ``SIGN_ME`` is signed: the test puts it where schemathesis
    meant the credential to be. A request without it (schemathesis leaving the header out, or its
    probes with no or a made-up credential) goes unsigned and must be refused with 401.
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if r.headers.get("X-Signature") != SIGN_ME:
            return r
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        r.headers.update(sign(KEY, r.method or "GET", r.path_url, body, KIOSK_ID, time.time()))
        return r


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("contract") / "sim"
    app = create_sim_app({"SIM_INSTANCE_PATH": str(path), "SIM_KIOSK_KEYS": {KIOSK_ID: KEY.hex()}})
    served = ServerThread(app)
    yield served
    stats = requests.get(f"{served.url}/admin/stats", timeout=5).json()
    served.stop()
    app.extensions["portal_sim"].engine.dispose()
    assert not any(code.startswith("5") for code in stats["requests"]), stats["requests"]


@pytest.fixture(scope="module")
def signed_session(served: ServerThread) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = Signed()
        yield session


@schema.parametrize()
@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_simulator_keeps_to_the_contract(case: schemathesis.Case, served: ServerThread, signed_session) -> None:
    if case.path_parameters:  # every phase (examples, coverage, fuzzing) passes through here
        case.path_parameters = {k: real_iin(v) if k == "iin" else v for k, v in case.path_parameters.items()}
    if isinstance(case.body, dict):
        case.body = {k: real_iin(v) if k in IIN_FIELDS else v for k, v in case.body.items()}
    signing = {"X-Signature": SIGN_ME} if "X-Signature" in (case.headers or {}) else None
    # a CMS that keeps to the schema is rarely a signature that verifies, nor a document one whose
    # hash is the payload_hash beside it: the central system refuses them (422), as the contract
    # says; tests/test_ecp_delivery.py and tests/test_egov_sign.py send real ones
    body = case.body if isinstance(case.body, dict) else {}
    signed = isinstance(body.get("signature"), dict) and "cms" in body["signature"]
    signed = signed or "document" in body
    excluded = [schemathesis.checks.positive_data_acceptance] if signed else None
    case.call_and_validate(
        base_url=served.url, session=signed_session, headers=signing, timeout=10, excluded_checks=excluded
    )
