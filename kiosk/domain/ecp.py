"""ЭЦҚ (ЭЦП): check a CMS signature made by NCALayer (or eGov Mobile) for the kiosk, for real.

A parent signs either a challenge the kiosk issued (to identify, with the AUTH key) or exactly the
canonical bytes of one application (with the signing key). ``verify_cms`` says who signed and how
it was checked, or raises ``Refused`` with one ``Problem``; the web layer turns each problem into
a message in kk, ru and en. No Flask here: this module takes its trust, its revocation checker and
its clock as arguments.

The facts it relies on are in the design notes (../shared/design/eds.md, with sources):
- the individual's IIN is in the subject's SERIALNUMBER as "IIN" + 12 digits;
- extended key usage 1.3.6.1.5.5.7.3.4 (emailProtection) marks the signing key, 1.3.6.1.5.5.7.3.2
  (clientAuth) the authentication key, 1.2.398.3.3.4.1.1 an individual (физлицо);
- RSA with SHA-256 is checked here with ``cryptography`` (the CMS structure read by ``asn1crypto``);
  GOST 34.310 / GOST 2015 signatures (OIDs under 1.2.398.3.10) have no maintained Python verifier,
  so they go to a verifier service the site runs (NCANode), else they are "not verified here".

Revocation policy (README, "Signing with ЭЦҚ"): the signer's certificate is checked by OCSP first,
then by the issuer's CRL; answers are cached for ``cache_s`` seconds (never past their own
nextUpdate). When neither answers, the kiosk refuses the signature (``STATUS_UNKNOWN``) and the
parent can still use the SMS code or the office's path: a kiosk never accepts a key it could not
check, because a revoked key is exactly the one a thief would bring.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNING_EKU = "1.3.6.1.5.5.7.3.4"  # emailProtection: НУЦ's signing keys
AUTH_EKU = "1.3.6.1.5.5.7.3.2"  # clientAuth: НУЦ's authentication keys
INDIVIDUAL_EKU = "1.2.398.3.3.4.1.1"  # an individual (физическое лицо)
GOST_PREFIX = "1.2.398.3.10."  # the Kazakh GOST key and signature algorithms
IIN_SERIAL = re.compile(r"^IIN([0-9]{12})$")
MAX_CMS_BYTES = 64 * 1024  # a CMS with a chain of three certificates is 5-8 KB
MAX_CHAIN = 5

_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class Purpose(Enum):
    IDENTIFY = "identify"  # a challenge, with the AUTH key
    SIGN = "sign"  # one application's canonical bytes, with the signing key


class Problem(Enum):
    MALFORMED = "malformed"  # not a CMS SignedData the kiosk can read
    OTHER_CONTENT = "other_content"  # signs other bytes than the kiosk asked for
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify with its certificate
    EXPIRED = "expired"  # the certificate was not valid when it signed (or is not now)
    NOT_YET_VALID = "not_yet_valid"
    WRONG_KEY = "wrong_key"  # AUTH key on an application, signing key to identify, not an individual's
    OTHER_PERSON = "other_person"  # the IIN in the certificate is not the applicant's
    UNKNOWN_ROOT = "unknown_root"  # does not chain to a configured НУЦ root
    REVOKED = "revoked"
    STATUS_UNKNOWN = "status_unknown"  # neither OCSP nor the CRL answered: the policy above
    GOST_UNCHECKED = "gost_unchecked"  # a GOST key to identify, with no verifier service to check it


class Refused(Exception):
    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem
        self.detail = detail


class Unreachable(Exception):
    """An OCSP responder, a CRL server or the verifier service did not answer."""


@dataclass(frozen=True)
class Signer:
    iin: str
    name: str  # "SURNAME GIVEN-NAME" as the certificate has them (CN, SURNAME)
    serial: str  # the certificate's serial number, hex
    issuer: str  # the issuing CA's common name
    not_before: dt.datetime
    not_after: dt.datetime
    algorithm: str  # "rsa" or "gost"
    subject: str = ""  # the certificate's whole subject (RFC 4514), as staff read it

    def as_json(self) -> dict[str, str]:
        return {
            "iin": self.iin,
            "name": self.name,
            "serial": self.serial,
            "issuer": self.issuer,
            "subject": self.subject,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "algorithm": self.algorithm,
        }


@dataclass(frozen=True)
class Verified:
    signer: Signer
    signed_at: dt.datetime | None  # the signingTime attribute, if the CMS has one
    checked_by: str  # "kiosk" (RSA here), "verifier" (the site's NCANode), "not_verified_here" (GOST, none)
    revocation: str  # "ocsp", "crl", "verifier", "none" (not verified here)

    def record(self, cms_bytes: bytes, method: str) -> dict[str, object]:
        """What the kiosk keeps with a signed application (sealed, for it names the signer): the
        CMS itself, who signed with which certificate, and how it was checked."""
        return {
            "method": method,
            "cms": base64.b64encode(cms_bytes).decode(),
            "signer": self.signer.as_json(),
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "checked_by": self.checked_by,
            "revocation": self.revocation,
        }


# --- trust: the НУЦ roots and intermediates a site installs --------------------------------------


@dataclass(frozen=True)
class Trust:
    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_dir(cls, path: Path) -> Trust:
        """Every certificate file in a folder (DER or PEM, .cer/.crt/.pem): self-signed ones are
        roots, the others intermediates. A missing folder trusts nothing."""
        roots: list[x509.Certificate] = []
        others: list[x509.Certificate] = []
        if path.is_dir():
            for file in sorted(path.iterdir()):
                if file.suffix.lower() not in (".cer", ".crt", ".pem", ".der"):
                    continue
                for cert in _load_certs(file.read_bytes()):
                    (roots if cert.issuer == cert.subject else others).append(cert)
        return cls(tuple(roots), tuple(others))

    def __bool__(self) -> bool:
        return bool(self.roots)


def _load_certs(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


# --- revocation: OCSP, then the CRL, both cached ----------------------------------------------


class Fetcher(Protocol):
    """How the kiosk reaches OCSP responders and CRL servers (httpx in production)."""

    def post(self, url: str, body: bytes, content_type: str) -> bytes: ...

    def get(self, url: str) -> bytes: ...


@dataclass
class Revocation:
    """Is a certificate revoked: OCSP first, then the CRL; each answer cached for ``cache_s``.

    ``ocsp_url`` and ``crl_urls`` from the site's settings win over the addresses in the
    certificate (which are read only after the chain to a configured root held).
    """

    fetch: Fetcher
    cache_s: float = 300.0
    ocsp_url: str | None = None
    crl_urls: tuple[str, ...] = ()
    _ocsp: dict[tuple[bytes, int], tuple[dt.datetime, str]] = field(default_factory=dict)
    _crls: dict[str, tuple[dt.datetime, x509.CertificateRevocationList]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime) -> str:
        """'ocsp' or 'crl' (which answered "good"); raises Refused(REVOKED or STATUS_UNKNOWN)."""
        try:
            good = self._by_ocsp(cert, issuer, now)
            source = "ocsp"
        except Unreachable:
            try:
                good = self._by_crl(cert, issuer, now)
                source = "crl"
            except Unreachable as exc:
                raise Refused(Problem.STATUS_UNKNOWN, str(exc)) from None
        if not good:
            raise Refused(Problem.REVOKED, f"serial {cert.serial_number:x}")
        return source

    def _by_ocsp(self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime) -> bool:
        key = (issuer.fingerprint(hashes.SHA256()), cert.serial_number)
        with self._lock:
            cached = self._ocsp.get(key)
        if cached is not None and cached[0] > now:
            return cached[1] == "good"
        url = self.ocsp_url or _aia_ocsp(cert)
        if not url:
            raise Unreachable("no OCSP address")
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        body = self.fetch.post(url, request.public_bytes(serialization.Encoding.DER), "application/ocsp-request")
        status, until = _read_ocsp(body, cert, issuer, now)
        with self._lock:
            self._ocsp[key] = (min(until, now + dt.timedelta(seconds=self.cache_s)), status)
        return status == "good"

    def _by_crl(self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime) -> bool:
        urls = list(self.crl_urls) or _crl_points(cert)
        if not urls:
            raise Unreachable("no CRL address")
        failures = []
        for url in urls:
            try:
                crl = self._crl(url, issuer, now)
            except Unreachable as exc:
                failures.append(str(exc))
                continue
            return crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None
        raise Unreachable("; ".join(failures))

    def _crl(self, url: str, issuer: x509.Certificate, now: dt.datetime) -> x509.CertificateRevocationList:
        with self._lock:
            cached = self._crls.get(url)
        if cached is not None and cached[0] > now:
            return cached[1]
        data = self.fetch.get(url)
        try:
            crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
        except ValueError:
            raise Unreachable(f"unreadable CRL from {url}") from None
        if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            raise Unreachable(f"CRL from {url} is not signed by the issuer")
        next_update = crl.next_update_utc
        if next_update is not None and next_update < now:
            raise Unreachable(f"CRL from {url} is out of date")
        until = now + dt.timedelta(seconds=self.cache_s)
        with self._lock:
            self._crls[url] = (min(until, next_update) if next_update else until, crl)
        return crl


def _aia_ocsp(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for desc in aia:
        if desc.access_method == x509.AuthorityInformationAccessOID.OCSP and isinstance(
            desc.access_location, x509.UniformResourceIdentifier
        ):
            return desc.access_location.value
    return None


def _crl_points(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in (point.full_name or [])
        if isinstance(name, x509.UniformResourceIdentifier)
    ]


def _read_ocsp(
    body: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
) -> tuple[str, dt.datetime]:
    """The OCSP answer for this certificate ('good' or 'revoked') and until when it holds.

    An answer that cannot be trusted (unsigned by the issuer or its delegated responder, for
    another certificate, stale, 'unknown') counts as no answer: the CRL is asked next.
    """
    try:
        response = ocsp.load_der_ocsp_response(body)
    except ValueError:
        raise Unreachable("unreadable OCSP answer") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise Unreachable(f"OCSP status {response.response_status.name}")
    wanted = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, response.hash_algorithm).build()
    if (
        response.serial_number != cert.serial_number
        or response.issuer_key_hash != wanted.issuer_key_hash
        or response.issuer_name_hash != wanted.issuer_name_hash
    ):
        raise Unreachable("OCSP answer for another certificate")
    responder = _ocsp_responder(response, issuer, now)
    try:
        _verify_with(
            responder.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        )
    except (InvalidSignature, Refused):
        raise Unreachable("OCSP answer not signed by its responder") from None
    if response.this_update_utc > now + dt.timedelta(minutes=5):
        raise Unreachable("OCSP answer from the future")
    next_update = response.next_update_utc
    if next_update is not None and next_update < now:
        raise Unreachable("OCSP answer out of date")
    if response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN:
        raise Unreachable("OCSP does not know the certificate")
    status = "good" if response.certificate_status == ocsp.OCSPCertStatus.GOOD else "revoked"
    return status, next_update or now + dt.timedelta(days=365)


def _ocsp_responder(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: dt.datetime) -> x509.Certificate:
    """The issuer itself, or a responder certificate it issued for OCSP signing (RFC 6960 4.2.2.2)."""
    issuer_key_id = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    if response.responder_name == issuer.subject or response.responder_key_hash == issuer_key_id:
        return issuer
    for candidate in response.certificates:
        try:
            candidate.verify_directly_issued_by(issuer)
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if (
            ExtendedKeyUsageOID.OCSP_SIGNING in eku
            and candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc
        ):
            return candidate
    raise Unreachable("OCSP responder not authorised by the issuer")


# --- GOST: the site's verifier service ---------------------------------------------------------


class GostVerifier(Protocol):
    """A service that checks a GOST CMS with the vendor's library (NCANode), revocation included."""

    def verify(self, cms: bytes, data: bytes) -> bool: ...


# --- the CMS itself --------------------------------------------------------------------------


def _verify_with(
    key: object, signature: bytes, data: bytes, digest: hashes.HashAlgorithm | None, pss: bool = False
) -> None:
    """Raise InvalidSignature unless `signature` over `data` holds for this key."""
    if digest is None:
        raise InvalidSignature()
    if isinstance(key, rsa.RSAPublicKey):
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.AUTO) if pss else padding.PKCS1v15()
        )
        key.verify(signature, data, pad, digest)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(digest))
    else:
        raise InvalidSignature()


@dataclass(frozen=True)
class _Parsed:
    signer_der: bytes
    signer_cert: x509.Certificate
    others: tuple[x509.Certificate, ...]
    content: bytes | None  # the encapsulated content; None when detached
    digest_name: str
    message_digest: bytes
    signed_attrs: bytes  # DER as signed (a SET OF, not the [0] tag)
    signature: bytes
    signature_algo: str  # dotted OID
    signing_time: dt.datetime | None


def _parse(data: bytes) -> _Parsed:
    """Read a CMS SignedData with exactly one signer and signed attributes, or refuse MALFORMED.

    asn1crypto parses lazily, so every field is touched here, inside the try: whatever is broken
    shows up now, as MALFORMED, and never later as a 500.
    """
    if not data or len(data) > MAX_CMS_BYTES:
        raise Refused(Problem.MALFORMED, "empty or too large")
    try:
        info = asn1_cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise Refused(Problem.MALFORMED, "not SignedData")
        signed = info["content"]
        signer_infos = signed["signer_infos"]
        if len(signer_infos) != 1:
            raise Refused(Problem.MALFORMED, f"{len(signer_infos)} signers")
        signer_info = signer_infos[0]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "data":
            raise Refused(Problem.MALFORMED, "content is not data")
        content = encap["content"].native if encap["content"].native is not None else None
        certs = []
        for choice in signed["certificates"] or []:
            if choice.name != "certificate":
                continue
            der = choice.chosen.dump()
            certs.append((der, _touched(x509.load_der_x509_certificate(der))))
        sid = signer_info["sid"]
        signer = None
        for der, cert in certs:
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                matches = cert.serial_number == ias["serial_number"].native and ias["issuer"].dump() == _issuer_der(der)
            else:
                matches = _ski(cert) == sid.chosen.native
            if matches:
                signer = (der, cert)
                break
        if signer is None:
            raise Refused(Problem.MALFORMED, "no certificate for the signer")
        attrs = signer_info["signed_attrs"]
        if not attrs:
            raise Refused(Problem.MALFORMED, "no signed attributes")
        found: dict[str, object] = {}
        for attr in attrs:
            name = attr["type"].native
            values = attr["values"]
            if len(values) != 1 or name in found:
                raise Refused(Problem.MALFORMED, f"attribute {name}")
            found[name] = values[0].native
        if found.get("content_type") != "data" or not isinstance(found.get("message_digest"), bytes):
            raise Refused(Problem.MALFORMED, "content type or digest attribute")
        signing_time = found.get("signing_time")
        if signing_time is not None and not isinstance(signing_time, dt.datetime):
            raise Refused(Problem.MALFORMED, "signing time")
        raw_attrs = attrs.dump()
        if not raw_attrs or raw_attrs[0] != 0xA0:
            raise Refused(Problem.MALFORMED, "signed attributes tag")
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        signature_algo = signer_info["signature_algorithm"]["algorithm"].dotted
        signature = signer_info["signature"].native
        if content is not None and not isinstance(content, bytes):
            raise Refused(Problem.MALFORMED, "content")
        return _Parsed(
            signer_der=signer[0],
            signer_cert=signer[1],
            others=tuple(cert for _der, cert in certs),
            content=content,
            digest_name=str(digest_name),
            message_digest=found["message_digest"],  # type: ignore[arg-type]
            signed_attrs=b"\x31" + raw_attrs[1:],  # signed as a SET OF (RFC 5652 5.4), stored as [0]
            signature=bytes(signature),
            signature_algo=str(signature_algo),
            signing_time=signing_time,
        )
    except Refused:
        raise
    except Exception as exc:
        raise Refused(Problem.MALFORMED, type(exc).__name__) from None


def _touched(cert: x509.Certificate) -> x509.Certificate:
    """``cryptography`` reads a certificate's parts when first asked: ask for all of them now."""
    _ = (cert.subject, cert.issuer, cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc)
    _ = (cert.public_key_algorithm_oid, list(cert.extensions), cert.signature_algorithm_oid)
    return cert


def _issuer_der(cert_der: bytes) -> bytes:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert_der)["tbs_certificate"]["issuer"].dump()


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _is_gost(cert: x509.Certificate, signature_algo: str) -> bool:
    return signature_algo.startswith(GOST_PREFIX) or cert.public_key_algorithm_oid.dotted_string.startswith(GOST_PREFIX)


def _iin_of(cert: x509.Certificate) -> str | None:
    for attr in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        match = IIN_SERIAL.match(str(attr.value))
        if match:
            return match.group(1)
    return None


def _name_of(cert: x509.Certificate) -> str:
    def first(oid: x509.ObjectIdentifier) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return first(NameOID.COMMON_NAME) or " ".join(filter(None, (first(NameOID.SURNAME), first(NameOID.GIVEN_NAME))))


def _ekus(cert: x509.Certificate) -> set[str]:
    try:
        return {oid.dotted_string for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
    except x509.ExtensionNotFound:
        return set()


def _chain(
    leaf: x509.Certificate, pool: Iterable[x509.Certificate], trust: Trust, moments: list[dt.datetime]
) -> list[x509.Certificate]:
    """The path from the signer's certificate to a configured root: [leaf, ..., root].

    Each link is checked by its signature and names (``verify_directly_issued_by``); each CA in
    it must be a CA (basicConstraints) and valid at every moment checked. Certificates the CMS
    carries can fill the path but can never be its end: only a configured root ends it.
    """
    roots = list(trust.roots)
    candidates = [*trust.intermediates, *pool]
    path = [leaf]
    current = leaf
    for _ in range(MAX_CHAIN):
        for root in roots:
            if _issued_by(current, root, moments):
                return [*path, root]
        step = next(
            (c for c in candidates if c not in path and c.subject != c.issuer and _issued_by(current, c, moments)),
            None,
        )
        if step is None:
            break
        path.append(step)
        current = step
    raise Refused(Problem.UNKNOWN_ROOT, f"issuer {current.issuer.rfc4514_string()}")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate, moments: list[dt.datetime]) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not constraints.ca:
        return False
    if not all(issuer.not_valid_before_utc <= m <= issuer.not_valid_after_utc for m in moments):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def verify_cms(
    cms_bytes: bytes,
    *,
    expected: bytes,
    purpose: Purpose,
    iin: str | None,
    now: dt.datetime,
    trust: Trust,
    revocation: Revocation,
    gost: GostVerifier | None = None,
) -> Verified:
    """Who signed `expected` in this CMS, and how the kiosk knows; or Refused with the reason.

    The order matters to the parent: a signature over other bytes or by another person is named
    as such before any network look-up, and revocation is asked last (it costs a round trip).
    """
    parsed = _parse(cms_bytes)
    cert = parsed.signer_cert
    gost_key = _is_gost(cert, parsed.signature_algo)
    # 1. the content: exactly the bytes the kiosk asked to sign
    if parsed.content is not None and parsed.content != expected:
        raise Refused(Problem.OTHER_CONTENT, "encapsulated content differs")
    if not gost_key:
        digest = _DIGESTS.get(parsed.digest_name)
        if digest is None:
            raise Refused(Problem.MALFORMED, f"digest {parsed.digest_name}")
        h = hashes.Hash(digest())
        h.update(expected)
        if h.finalize() != parsed.message_digest:
            raise Refused(Problem.OTHER_CONTENT, "message digest differs")
    # 2. whose key: the IIN in SERIALNUMBER, an individual's, the right usage
    signer_iin = _iin_of(cert)
    if signer_iin is None:
        raise Refused(Problem.WRONG_KEY, "no IIN in the certificate")
    if iin is None and purpose is not Purpose.IDENTIFY:
        raise ValueError("an application is signed by its applicant: pass the IIN")
    if iin is not None and signer_iin != iin:  # None: identifying, the certificate says who it is
        raise Refused(Problem.OTHER_PERSON, "IIN differs")
    ekus = _ekus(cert)
    wanted = SIGNING_EKU if purpose is Purpose.SIGN else AUTH_EKU
    if wanted not in ekus or INDIVIDUAL_EKU not in ekus:
        raise Refused(Problem.WRONG_KEY, f"extended key usage {sorted(ekus)}")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise Refused(Problem.WRONG_KEY, "keyUsage without digitalSignature")
    except x509.ExtensionNotFound:
        pass
    # 3. when: valid now and at the moment it says it signed
    moments = [now] + ([parsed.signing_time] if parsed.signing_time else [])
    for moment in moments:
        if moment > cert.not_valid_after_utc:
            raise Refused(Problem.EXPIRED, f"not after {cert.not_valid_after_utc:%Y-%m-%d}")
        if moment < cert.not_valid_before_utc:
            raise Refused(Problem.NOT_YET_VALID, f"not before {cert.not_valid_before_utc:%Y-%m-%d}")
    signer = Signer(
        iin=signer_iin,
        name=_name_of(cert),
        serial=f"{cert.serial_number:x}",
        issuer=_common_name(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        algorithm="gost" if gost_key else "rsa",
        subject=cert.subject.rfc4514_string(_NAMES),
    )
    if gost_key:
        return _gost(cms_bytes, expected, purpose, signer, parsed, gost)
    # 4. the signature itself, then the chain to a configured root, then revocation
    digest_algo = _DIGESTS[parsed.digest_name]()
    pss = parsed.signature_algo == "1.2.840.113549.1.1.10"
    try:
        _verify_with(cert.public_key(), parsed.signature, parsed.signed_attrs, digest_algo, pss=pss)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        raise Refused(Problem.BAD_SIGNATURE) from None
    chain = _chain(cert, parsed.others, trust, moments)
    source = revocation.status(cert, chain[1], now)
    return Verified(signer, parsed.signing_time, "kiosk", source)


def _gost(
    cms_bytes: bytes, expected: bytes, purpose: Purpose, signer: Signer, parsed: _Parsed, gost: GostVerifier | None
) -> Verified:
    """GOST: the site's verifier checks signature, chain and revocation; without one, an
    application goes on marked "not verified here" (staff and the central system see it), while
    an identification is refused: nobody may become someone else at the kiosk on an unchecked key."""
    if gost is None:
        if purpose is Purpose.IDENTIFY:
            raise Refused(Problem.GOST_UNCHECKED)
        if parsed.content is None:  # no GOST hash here: only carried content can be compared
            raise Refused(Problem.OTHER_CONTENT, "detached GOST signature, nothing to compare")
        return Verified(signer, parsed.signing_time, "not_verified_here", "none")
    try:
        valid = gost.verify(cms_bytes, expected)
    except Unreachable as exc:
        raise Refused(Problem.STATUS_UNKNOWN, str(exc)) from None
    if not valid:
        raise Refused(Problem.BAD_SIGNATURE, "verifier service")
    return Verified(signer, parsed.signing_time, "verifier", "verifier")


# the names НУЦ's certificates use, so staff read "SERIALNUMBER=IIN…", not "2.5.4.5=IIN…"
_NAMES = {NameOID.SERIAL_NUMBER: "SERIALNUMBER", NameOID.SURNAME: "SURNAME", NameOID.GIVEN_NAME: "GIVENNAME"}


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def decode_b64(text: str) -> bytes | None:
    """NCALayer's answer (base64 CMS) as bytes; None for anything that is not base64."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (ValueError, TypeError):
        return None


def challenge_bytes(kiosk_id: str, nonce: str, issued_at: dt.datetime) -> bytes:
    """What a parent signs to identify: names this kiosk and a one-time nonce, so a CMS made for
    another terminal or another visit proves nothing here."""
    return f"school-kiosk identify\nkiosk={kiosk_id}\nnonce={nonce}\nat={issued_at:%Y-%m-%dT%H:%M:%SZ}\n".encode()


def fingerprint(cms_bytes: bytes) -> str:
    return hashlib.sha256(cms_bytes).hexdigest()


def signed_content(cms_bytes: bytes) -> bytes | None:
    """The content a CMS carries (None when it is detached); Refused(MALFORMED) for no CMS.

    For a party that holds the signature but not the bytes (the central system): what it then
    checks with ``verify_cms``, after comparing the bytes' hash with the one it was told.
    """
    return _parse(cms_bytes).content
