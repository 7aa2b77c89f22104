"""The central system (the eGov portal and the education systems), behind one client class.

``HttpPortal`` speaks contract/openapi.yaml, to the real central system (``PORTAL=http``) or to its
simulator, kiosk/portal_sim (``PORTAL=embedded``, the default). ``DemoPortal`` (``PORTAL=demo``) is
an in-process stand-in that only finds phones and keeps the SMS it was given, with synthetic
citizens, one of them without a registered phone: nothing is delivered, so no worker runs with it.
Tests inject their own (an unreachable one, say) through ``app.extensions["kiosk.portal"]``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from kiosk.clients.signing import sign
from kiosk.domain.iin import make_iin


class PortalUnavailable(Exception):
    """The central system did not answer; the visitor is offered the staff-assisted path."""


@dataclass(frozen=True)
class Phone:
    """A registered phone as the kiosk may know it: masked, '+7 701 *** ** 45'."""

    masked: str

    @classmethod
    def from_number(cls, number: str) -> Phone:
        digits = number.lstrip("+")
        return cls(f"+{digits[0]} {digits[1:4]} *** ** {digits[-2:]}")


@dataclass(frozen=True)
class SigningSession:
    """eGov Mobile signing by QR code, as the central system holds it (contract: SigningSession)."""

    id: str
    status: str  # waiting, signed, declined, cancelled, expired
    url: str  # what the QR code carries
    expires_at: dt.datetime
    cms: bytes | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SigningSession:
        cms = data.get("cms")
        return cls(
            id=str(data["id"]),
            status=str(data["status"]),
            url=str(data["url"]),
            expires_at=dt.datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00")),
            cms=base64.b64decode(cms) if isinstance(cms, str) else None,
        )


class PortalClient:
    """What the kiosk asks of the central system. Every method may raise PortalUnavailable."""

    offers_egov_signing = False  # eGov Mobile by QR code goes through the central system

    def open_signing(self, iin: str, payload_hash: str, document: bytes, lang: str) -> SigningSession:
        """Ask for ``document`` (an application's canonical bytes) to be signed in eGov Mobile."""
        raise PortalUnavailable("eGov Mobile signing is not offered by this central system")

    def signing_session(self, session_id: str) -> SigningSession:
        raise PortalUnavailable("eGov Mobile signing is not offered by this central system")

    def cancel_signing(self, session_id: str) -> SigningSession:
        raise PortalUnavailable("eGov Mobile signing is not offered by this central system")

    def phone_for(self, iin: str) -> Phone | None:
        """The phone registered for this IIN in the mobile citizens database, if any."""
        raise NotImplementedError

    def send_sms(self, iin: str, text: str) -> None:
        """Deliver a text to the phone registered for this IIN."""
        raise NotImplementedError


def demo_citizens() -> dict[str, Phone | None]:
    """Synthetic adults made by the IIN algorithm (never numbers copied from anywhere)."""
    people = [
        (dt.date(1988, 4, 12), "F", 1234, "+77011234545"),
        (dt.date(1985, 11, 3), "M", 2345, "+77057654312"),
        (dt.date(1992, 1, 27), "F", 3456, "+77474567890"),
        (dt.date(1979, 6, 30), "M", 4567, None),  # no phone in the mobile citizens database
    ]
    out: dict[str, Phone | None] = {}
    for born, sex, serial, phone in people:
        iin = make_iin(born, sex, serial)
        assert iin is not None
        out[iin] = Phone.from_number(phone) if phone else None
    return out


@dataclass
class DemoPortal(PortalClient):
    citizens: dict[str, Phone | None] = field(default_factory=demo_citizens)
    reachable: bool = True
    sent: list[tuple[str, str]] = field(default_factory=list)

    def phone_for(self, iin: str) -> Phone | None:
        if not self.reachable:
            raise PortalUnavailable("demo portal switched off")
        if iin in self.citizens:
            return self.citizens[iin]
        # anyone else has a made-up number, the same every time, so demos and load tests can use
        # any synthetic IIN; the listed citizen without a phone shows the other path
        digits = int(hashlib.sha256(iin.encode()).hexdigest(), 16) % 10**7
        return Phone.from_number(f"+7700{digits:07d}")

    def send_sms(self, iin: str, text: str) -> None:
        if self.phone_for(iin) is None:
            raise PortalUnavailable("no phone registered")
        self.sent.append((iin, text))
        del self.sent[:-100]  # a demo, not a store


# --- the real client: HTTP to the central system (or `kiosk portal-sim`) -----------------------


@dataclass(frozen=True)
class Accepted:
    reference: str


@dataclass(frozen=True)
class Rejected:
    """A permanent answer (4xx but 408/429): resending the same thing will not help; staff must look."""

    status: int
    detail: str
    errors: list[dict[str, str]]


@dataclass(frozen=True)
class RetryLater:
    """A passing failure: 5xx, 408, 429, a timeout, a reset; Retry-After when the peer gave one."""

    reason: str
    retry_after: float | None = None


SubmitResult = Accepted | Rejected | RetryLater


@dataclass(frozen=True)
class Change:
    cursor: int
    idempotency_key: str
    reference: str
    status: str
    reason: dict[str, str] | None


class HttpPortal(PortalClient):
    """The contract in contract/openapi.yaml over httpx: keep-alive, timeouts, signed requests."""

    def __init__(
        self,
        base_url: str,
        kiosk_id: str,
        key: bytes,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.kiosk_id = kiosk_id
        self._key = key
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_keepalive_connections=8, max_connections=16),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def _request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":"), sort_keys=True).encode()
        url = httpx.URL(path, params=params)
        target = url.raw_path.decode()
        signed = sign(self._key, method, target, body, self.kiosk_id, time.time())
        all_headers = {**signed, **(headers or {})}
        if body:
            all_headers["Content-Type"] = "application/json"
        return self._client.request(method, target, content=body or None, headers=all_headers)

    def phone_for(self, iin: str) -> Phone | None:
        try:
            response = self._request("GET", f"/api/v1/citizens/{iin}/phone")
        except httpx.HTTPError as exc:
            raise PortalUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise PortalUnavailable(f"phone look-up answered {response.status_code}")
        answer = response.json()
        return Phone(answer["masked"]) if answer.get("registered") else None

    def send_sms(self, iin: str, text: str) -> None:
        try:
            response = self._request("POST", "/api/v1/sms", {"iin": iin, "text": text})
        except httpx.HTTPError as exc:
            raise PortalUnavailable(type(exc).__name__) from exc
        if response.status_code != 202:
            raise PortalUnavailable(f"sms answered {response.status_code}")

    def submit(self, idempotency_key: str, application: dict[str, Any]) -> SubmitResult:
        try:
            response = self._request(
                "POST", "/api/v1/applications", application, headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.HTTPError as exc:  # timeouts, resets, refused connections: all passing
            return RetryLater(type(exc).__name__)
        status = response.status_code
        if status in (200, 201):
            return Accepted(response.json()["reference"])
        if status in (408, 425, 429) or status >= 500:
            return RetryLater(f"http {status}", _retry_after(response))
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        return Rejected(
            status, str(problem.get("detail") or problem.get("title") or status), problem.get("errors") or []
        )

    def changes(self, after: int, limit: int = 100) -> tuple[list[Change], int]:
        try:
            response = self._request("GET", "/api/v1/applications/changes", params={"after": after, "limit": limit})
        except httpx.HTTPError as exc:
            raise PortalUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise PortalUnavailable(f"changes answered {response.status_code}")
        data = response.json()
        items = [
            Change(c["cursor"], c["idempotency_key"], c["reference"], c["status"], c.get("reason"))
            for c in data["changes"]
        ]
        return items, int(data["next"])

    def listing(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        try:
            response = self._request(
                "GET", "/api/v1/applications", params={"from": start.isoformat(), "to": end.isoformat()}
            )
        except httpx.HTTPError as exc:
            raise PortalUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise PortalUnavailable(f"listing answered {response.status_code}")
        return response.json()["applications"]

    offers_egov_signing = True

    def _session(self, method: str, path: str, body: Any = None, expect: int = 200) -> SigningSession:
        try:
            response = self._request(method, path, body)
        except httpx.HTTPError as exc:
            raise PortalUnavailable(type(exc).__name__) from exc
        if response.status_code != expect:
            raise PortalUnavailable(f"signing session answered {response.status_code}")
        try:
            return SigningSession.from_json(response.json())
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise PortalUnavailable(f"signing session answer unreadable: {type(exc).__name__}") from exc

    def open_signing(self, iin: str, payload_hash: str, document: bytes, lang: str) -> SigningSession:
        body = {
            "applicant_iin": iin,
            "payload_hash": payload_hash,
            "document": base64.b64encode(document).decode(),
            "lang": lang,
        }
        return self._session("POST", "/api/v1/signing-sessions", body, expect=201)

    def signing_session(self, session_id: str) -> SigningSession:
        return self._session("GET", f"/api/v1/signing-sessions/{session_id}")

    def cancel_signing(self, session_id: str) -> SigningSession:
        return self._session("POST", f"/api/v1/signing-sessions/{session_id}/cancel")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
