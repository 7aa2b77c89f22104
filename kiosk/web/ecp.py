"""ЭЦҚ in the app: the trust, revocation and verifier a site configured, and the visitor's words
for each refusal (kk, ru, en). The checking itself is kiosk/domain/ecp.py; the pages are in identify.py.

Tests put their own ``EcpSetup`` (the test CA's roots and its in-process OCSP responder) into
``app.extensions["kiosk.ecp"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from flask_babel import gettext as _

from kiosk.clients.pki import HttpFetcher, NcaNodeVerifier
from kiosk.domain import ecp


@dataclass
class EcpSetup:
    trust: ecp.Trust
    revocation: ecp.Revocation
    gost: ecp.GostVerifier | None = None


def init_app(app: Flask) -> None:
    folder = Path(app.config["ECP_TRUST_DIR"] or Path(app.instance_path) / "ecp")
    timeout = float(app.config["ECP_FETCH_TIMEOUT_S"])
    verifier = app.config["ECP_VERIFIER_URL"]
    app.extensions["kiosk.ecp"] = EcpSetup(
        trust=ecp.Trust.from_dir(folder),
        revocation=ecp.Revocation(
            HttpFetcher(timeout),
            cache_s=float(app.config["ECP_REVOCATION_CACHE_S"]),
            ocsp_url=app.config["ECP_OCSP_URL"],
            crl_urls=tuple(app.config["ECP_CRL_URLS"] or ()),
        ),
        gost=NcaNodeVerifier(verifier, timeout) if verifier else None,
    )


def setup() -> EcpSetup:
    return current_app.extensions["kiosk.ecp"]


def enabled() -> bool:
    """ЭЦҚ is offered once the site installed at least one НУЦ root."""
    return bool(setup().trust)


def refusal_message(problem: ecp.Problem, purpose: ecp.Purpose) -> str:
    """Why the kiosk does not accept this signature, and what the parent can do instead."""
    if problem is ecp.Problem.WRONG_KEY:
        if purpose is ecp.Purpose.SIGN:
            return _(
                "This key cannot sign an application: it is the authentication key (AUTH). "
                "Choose your signing key (RSA or GOST) in NCALayer."
            )
        return _("This key cannot identify you: choose your authentication key (AUTH) in NCALayer.")
    return {
        ecp.Problem.MALFORMED: _("The signature could not be read. Please try again, or use the SMS code."),
        ecp.Problem.OTHER_CONTENT: _("This signature is not for this request. Please sign again."),
        ecp.Problem.BAD_SIGNATURE: _("The signature does not match its certificate. Please sign again."),
        ecp.Problem.EXPIRED: _(
            "This certificate has expired. A new one is issued at a Government for Citizens centre or on pki.gov.kz."
        ),
        ecp.Problem.NOT_YET_VALID: _("This certificate is not valid yet. Please ask the school office."),
        ecp.Problem.OTHER_PERSON: _(
            "This certificate belongs to another person. Sign with your own key, or use the SMS code."
        ),
        ecp.Problem.UNKNOWN_ROOT: _(
            "This certificate was not issued by the National Certification Authority of Kazakhstan."
        ),
        ecp.Problem.REVOKED: _(
            "This certificate has been revoked and cannot be used. A new one is issued at a Government for "
            "Citizens centre or on pki.gov.kz."
        ),
        ecp.Problem.STATUS_UNKNOWN: _(
            "The certificate's status cannot be checked right now. Use the SMS code, or ask the school office."
        ),
        ecp.Problem.GOST_UNCHECKED: _(
            "A GOST key cannot be checked at this terminal. Choose your RSA key, or use the SMS code."
        ),
    }[problem]
