"""A test certification authority in the НУЦ format, made at run time: never the real CA's keys.

A root, an intermediate and individuals' certificates as НУЦ issues them (eds.md): the IIN in
SERIALNUMBER as "IIN" + 12 digits, CN "SURNAME NAME", SURNAME, GIVENNAME (the patronymic), C=KZ,
an AUTH key (clientAuth) and a signing key (emailProtection), both marked as an individual's. It
answers OCSP and serves a CRL, so the tests, the bench, the simulator (eGov Mobile's test CA)
and the stand-in NCALayer all check signatures the way the kiosk checks real ones.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from kiosk.domain.ecp import AUTH_EKU, INDIVIDUAL_EKU, SIGNING_EKU, Fetcher, Unreachable

OCSP_URL = "http://ocsp.test-ca.invalid/"
CRL_URL = "http://crl.test-ca.invalid/nca_rsa.crl"
_LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_FAR_AHEAD = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])


def _ca_cert(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPublicKey, *, path_length: int, signer: rsa.RSAPrivateKey
) -> x509.Certificate:
    """A CA certificate of the test chain (the root signs itself and the intermediate), valid from
    long ago to far ahead, with ``path_length`` CAs allowed below it."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_LONG_AGO)
        .not_valid_after(_FAR_AHEAD)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .sign(signer, hashes.SHA256())
    )


@dataclass
class Person:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def p12(self, password: bytes, chain: list[x509.Certificate]) -> bytes:
        """The key file a parent brings on a USB stick (PKCS#12), as НУЦ issues it."""
        return pkcs12.serialize_key_and_certificates(
            b"key", self.key, self.cert, chain, serialization.BestAvailableEncryption(password)
        )


@dataclass
class DemoCa:
    """A root and an intermediate ("ҰКО (RSA) test"), and what they have revoked."""

    name: str = "TEST"
    root_key: rsa.RSAPrivateKey = field(default_factory=_key)
    ca_key: rsa.RSAPrivateKey = field(default_factory=_key)
    revoked: dict[int, dt.datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        root_name = _name(f"{self.name} ROOT CA (RSA)")
        self.root = _ca_cert(root_name, root_name, self.root_key.public_key(), path_length=1, signer=self.root_key)
        ca_name = _name(f"ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) {self.name}"[:64])
        self.intermediate = _ca_cert(ca_name, root_name, self.ca_key.public_key(), path_length=0, signer=self.root_key)
        self._lock = threading.Lock()

    def person(
        self,
        iin: str,
        *,
        usage: str = "sign",
        surname: str = "ТЕСТОВА",
        given: str = "АЙГЕРІМ",
        patronymic: str = "НҰРЛАНҚЫЗЫ",
        not_before: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        not_after: dt.datetime = dt.datetime(2028, 1, 1, tzinfo=dt.UTC),
        key: rsa.RSAPrivateKey | None = None,
        individual: bool = True,
    ) -> Person:
        """An individual's certificate: usage "sign" (the signing key) or "auth" (AUTH)."""
        key = key or _key()
        purpose = {"sign": SIGNING_EKU, "auth": AUTH_EKU}[usage]
        ekus = [x509.ObjectIdentifier(purpose)]
        if individual:
            ekus.append(x509.ObjectIdentifier(INDIVIDUAL_EKU))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{surname} {given}"),
                x509.NameAttribute(NameOID.SURNAME, surname),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
                x509.NameAttribute(NameOID.GIVEN_NAME, patronymic),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=usage == "sign",
                    key_encipherment=usage == "auth",
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL)
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.CRLDistributionPoints(
                    [x509.DistributionPoint([x509.UniformResourceIdentifier(CRL_URL)], None, None, None)]
                ),
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        return Person(key, cert)

    def sign(self, person: Person, data: bytes, *, detached: bool = False, chain: bool = True) -> bytes:
        """A CMS SignedData over `data` (signed attributes: content type, signing time, digest),
        as NCALayer's `sign` with format "cms" gives it."""
        builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(person.cert, person.key, hashes.SHA256())
        if chain:
            builder = builder.add_certificate(self.intermediate)
        options = [pkcs7.PKCS7Options.Binary]
        if detached:
            options.append(pkcs7.PKCS7Options.DetachedSignature)
        return builder.sign(serialization.Encoding.DER, options)

    def revoke(self, cert: x509.Certificate, at: dt.datetime) -> None:
        with self._lock:
            self.revoked[cert.serial_number] = at

    def ocsp_answer(self, request_der: bytes, now: dt.datetime) -> bytes:
        """The responder: the intermediate signs the answer about the certificates it issued."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(
                serialization.Encoding.DER
            )
        name_hash, key_hash = _id_hashes(self.intermediate, request.hash_algorithm)
        if (name_hash, key_hash) != (request.issuer_name_hash, request.issuer_key_hash):  # not our certificate
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
                serialization.Encoding.DER
            )
        with self._lock:
            revoked_at = self.revoked.get(request.serial_number)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            request.issuer_name_hash,
            request.issuer_key_hash,
            request.serial_number,
            request.hash_algorithm,
            ocsp.OCSPCertStatus.REVOKED if revoked_at else ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + dt.timedelta(hours=1),
            revocation_time=revoked_at,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked_at else None,
        )
        return (
            builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.intermediate)
            .sign(self.ca_key, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )

    def crl(self, now: dt.datetime) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.intermediate.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(hours=12))
        )
        with self._lock:
            revoked = dict(self.revoked)
        for serial, at in revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at).build()
            )
        return builder.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def pem_roots(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def kept_in(cls, folder: Path, name: str = "SIM") -> DemoCa:
        """A CA whose two keys live in ``folder`` (made there the first time), so what it signed
        still chains after a restart: its certificates are made again from the same keys and names.
        A test CA's keys, in a simulator's own instance folder: never a real CA's."""
        folder.mkdir(parents=True, exist_ok=True)
        keys = []
        for part in ("root", "ca"):
            file = folder / f"{part}.key.pem"
            if file.exists():
                key = serialization.load_pem_private_key(file.read_bytes(), password=None)
                assert isinstance(key, rsa.RSAPrivateKey)
            else:
                key = _key()
                pem = key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                file.touch(mode=0o600)
                file.write_bytes(pem)
            keys.append(key)
        return cls(name=name, root_key=keys[0], ca_key=keys[1])


def _id_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """An OCSP CertID's issuer hashes (RFC 6960 4.1.1): of the issuer's name, and of its public key
    (the BIT STRING's contents, which for RSA are the PKCS#1 RSAPublicKey)."""
    name = hashes.Hash(algorithm)
    name.update(issuer.subject.public_bytes())
    key = hashes.Hash(algorithm)
    key.update(issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))
    return name.finalize(), key.finalize()


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass
class CaFetcher:
    """The test CA's OCSP responder and CRL server, in-process, able to be switched off."""

    ca: DemoCa
    clock: object  # a callable giving the aware UTC now
    ocsp_down: bool = False
    crl_down: bool = False
    calls: list[str] = field(default_factory=list)

    def post(self, url: str, body: bytes, content_type: str) -> bytes:
        self.calls.append(f"POST {url}")
        if self.ocsp_down or url != OCSP_URL:
            raise Unreachable(f"{url} does not answer")
        return self.ca.ocsp_answer(body, self.clock())  # type: ignore[operator]

    def get(self, url: str) -> bytes:
        self.calls.append(f"GET {url}")
        if self.crl_down or url != CRL_URL:
            raise Unreachable(f"{url} does not answer")
        return self.ca.crl(self.clock())  # type: ignore[operator]


@dataclass
class CasFetcher:
    """OCSP for several test CAs in-process (they share one address): the one that issued the
    certificate answers. No CRL: the simulator's policy is OCSP alone. Every other address goes to
    ``others`` when given (a demo kiosk's own fetcher, for the roots its site installed)."""

    cas: list[DemoCa]
    clock: object
    others: Fetcher | None = None

    def post(self, url: str, body: bytes, content_type: str) -> bytes:
        if url != OCSP_URL:
            if self.others is not None:
                return self.others.post(url, body, content_type)
            raise Unreachable(f"{url} does not answer")
        for ca in self.cas:
            answer = ca.ocsp_answer(body, self.clock())  # type: ignore[operator]
            if ocsp.load_der_ocsp_response(answer).response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
                return answer
        raise Unreachable("no test CA issued this certificate")

    def get(self, url: str) -> bytes:
        if url != CRL_URL and self.others is not None:
            return self.others.get(url)
        raise Unreachable(f"{url}: the simulator asks OCSP only")
