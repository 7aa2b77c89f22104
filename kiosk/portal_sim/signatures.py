"""The central system's side of ЭЦҚ: it checks the CMS an application carries, and it signs on the
demo parent's phone for eGov Mobile, with test CAs only.

The simulator trusts the test CAs a test gives it (``SIM_ECP_CAS``, e.g. the one the stand-in
NCALayer's key files come from; the first signs on the phone), else a test CA of its own (its keys
kept in its instance folder, so what it signed still chains after a restart); revocation is asked
of them by OCSP, in-process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from kiosk.domain import ecp
from kiosk.portal_sim.testca import CasFetcher, DemoCa, Person


@dataclass
class SimEcp:
    """The CAs the simulator trusts; the first one signs on the simulated phone (eGov Mobile)."""

    folder: Path
    given: list[DemoCa]
    clock: Any
    _cas: list[DemoCa] | None = None
    _people: dict[str, Person] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _revocation: ecp.Revocation | None = None

    def cas(self) -> list[DemoCa]:
        """Made at the first signature, not at start: most simulators (the tests') never need one."""
        with self._lock:
            if self._cas is None:
                self._cas = list(self.given) or [DemoCa.kept_in(self.folder)]
                self._revocation = ecp.Revocation(CasFetcher(self._cas, self.clock), cache_s=60)
            return self._cas

    def roots(self) -> tuple[x509.Certificate, ...]:
        """The TEST roots it trusts (never НУЦ's): those a kiosk talking to it must trust too."""
        return tuple(ca.root for ca in self.cas())

    def fetcher(self, others: ecp.Fetcher | None = None) -> CasFetcher:
        """Its test CAs' OCSP, in-process (their certificates name an address that resolves
        nowhere); any other address goes to ``others`` (a kiosk's own fetcher), if given."""
        return CasFetcher(self.cas(), self.clock, others)

    def sign_on_phone(self, iin: str, document: bytes) -> bytes:
        """What eGov Mobile gives back once the parent confirms: a CMS over the document with the
        signing key of a certificate the simulator's CA issued for this IIN."""
        ca = self.cas()[0]
        with self._lock:
            person = self._people.get(iin)
            if person is None:
                person = self._people[iin] = ca.person(iin, usage="sign")
        return ca.sign(person, document)

    def check(self, body: dict[str, Any], now: Any) -> list[dict[str, str]]:
        """The application's signature, as the central system checks it: each problem as a field
        error (none: it holds). ``sms`` and ``staff`` carry nothing to check here."""
        signature = body["signature"]
        if signature["method"] not in ("ecp", "egov_mobile"):
            return []
        try:
            cms = base64.b64decode(signature["cms"], validate=True)
        except (binascii.Error, ValueError):
            return [{"field": "signature.cms", "message": "is not base64"}]
        try:
            content = ecp.signed_content(cms)
        except ecp.Refused as refused:
            return [{"field": "signature.cms", "message": f"refused: {refused}"}]
        if content is None:
            return [{"field": "signature.cms", "message": "carries no content: nothing shows what was signed"}]
        if hashlib.sha256(content).hexdigest() != body["payload_hash"]:
            return [{"field": "signature.cms", "message": "signs other bytes than those whose hash is payload_hash"}]
        mismatch = _differs(content, body)
        if mismatch:
            return [{"field": "signature.cms", "message": f"the signed application differs: {mismatch}"}]
        roots = self.roots()
        assert self._revocation is not None
        try:
            ecp.verify_cms(
                cms,
                expected=content,
                purpose=ecp.Purpose.SIGN,
                iin=body["applicant_iin"],
                now=now,
                trust=ecp.Trust(roots),
                revocation=self._revocation,
            )
        except ecp.Refused as refused:
            return [{"field": "signature.cms", "message": f"refused: {refused}"}]
        return []

    def serial(self, body: dict[str, Any]) -> str | None:
        """The signer's certificate serial, for the store (after ``check`` passed)."""
        cms = body["signature"].get("cms")
        if not cms:
            return None
        from asn1crypto import cms as asn1_cms

        signer = asn1_cms.ContentInfo.load(base64.b64decode(cms))["content"]["signer_infos"][0]["sid"]
        return f"{signer.chosen['serial_number'].native:x}" if signer.name == "issuer_and_serial_number" else None


def _differs(content: bytes, body: dict[str, Any]) -> str | None:
    """The signed payload names the same service, year, applicant, child and answers as the body."""
    try:
        signed = json.loads(content)
        answers = dict(signed["answers"])
        facts = {
            "service": signed["service"],
            "school_year": signed["school_year"],
            "applicant_iin": signed["applicant"]["iin"],
            "child_iin": answers.pop("child_iin"),
            "answers": answers,
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return "not an application"
    for name, value in facts.items():
        if body.get(name) != value:
            return name
    return None
